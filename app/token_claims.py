"""What a token's claims must look like before they reach the database.

A token signed with the real secret can still carry claims of any JSON shape (a leaked
secret, a bug in another issuer, an old format). ``sub`` must name a row id and ``sid`` be
a session id as this service writes them; anything else is an invalid token (401), not a
query with a value the database cannot take.
"""

import re

from flask_jwt_extended.exceptions import JWTDecodeError

from app.api.fields import MAX_ID

_USER_ID = re.compile(r"[1-9][0-9]{0,9}")
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def token_user_id(payload):
    """Return the user id a token's ``sub`` names; raise JWTDecodeError if it names none."""
    subject = payload.get("sub")
    if not (isinstance(subject, str) and _USER_ID.fullmatch(subject)
            and int(subject) <= MAX_ID):
        raise JWTDecodeError("the subject is not a user id")
    return int(subject)


def token_session_id(payload):
    """Return a token's ``sid``; raise JWTDecodeError unless it is a session id."""
    sid = payload.get("sid")
    if not (isinstance(sid, str) and _SESSION_ID.fullmatch(sid)):
        raise JWTDecodeError("the session id is missing or malformed")
    return sid
