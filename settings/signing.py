"""Signing secrets: the published ones production refuses, their strength, the instance's own."""

import math
import os
import secrets
from collections import Counter
from pathlib import Path

# Published secrets (an old development default, the test suite's): never accepted in production.
DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me"
TESTING_JWT_SECRET = "testing-secret-key-that-is-long-enough-0123456789"
MIN_SECRET_LENGTH = 32
MIN_SECRET_BITS = 100


def secret_strength_bits(secret):
    """Estimate a secret's entropy: its length times the Shannon entropy of its characters.

    Repetition and a small alphabet show (32 × "a" is 0 bits); a random 32-character hex
    string scores about 115, ``secrets.token_urlsafe(48)`` about 350.
    """
    if not secret:
        return 0.0
    counts = Counter(secret)
    per_character = -sum(n / len(secret) * math.log2(n / len(secret)) for n in counts.values())
    return len(secret) * per_character


def instance_secret(instance_dir, name):
    """Return this installation's random secret ``name``, made on first use (mode 600).

    It lives in the instance folder (outside git), so every process of one installation
    signs with the same secret and no two installations share one. Of processes racing
    to make it, the first link wins and the others read its secret.
    """
    path = Path(instance_dir) / name
    if path.is_file() and path.read_text().strip():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48) + "\n")
    try:
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path.read_text().strip()


def resolve_secrets(settings):
    """Fill unset signing secrets from the instance folder (production refuses unset ones)."""
    if not settings.get("JWT_SECRET_KEY"):
        settings["JWT_SECRET_KEY"] = instance_secret(settings["INSTANCE_DIR"], "jwt_secret_key")
    if not settings.get("SECRET_KEY"):  # Flask's own; signs nothing this API sends
        settings["SECRET_KEY"] = settings["JWT_SECRET_KEY"]
