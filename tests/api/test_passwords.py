"""Changing a password: your own, an admin's reset, the CLI; every earlier session ends."""

import pytest

PASSWORD = "correct-horse-42"
NEW_PASSWORD = "a-new-stable-battery"


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def me(auth, token):
    return auth.client.get("/api/auth/me", headers=bearer(token)).status_code


def login(auth, username, password, address="10.7.0.1"):
    return auth.login(username, password, environ_base={"REMOTE_ADDR": address})


def change(auth, token, current=PASSWORD, new=NEW_PASSWORD):
    return auth.client.post("/api/auth/password", headers=bearer(token),
                            json={"current_password": current, "new_password": new})


def test_changing_your_password_ends_your_other_sessions_and_keeps_this_one(auth):
    auth.user(username="alice", password=PASSWORD)
    laptop = login(auth, "alice", PASSWORD).get_json()
    phone = login(auth, "alice", PASSWORD).get_json()
    assert me(auth, phone["access_token"]) == 200

    response = change(auth, laptop["access_token"])
    assert response.status_code == 200
    renewed = response.get_json()

    assert me(auth, phone["access_token"]) == 401
    refresh = auth.client.post("/api/auth/refresh", headers=bearer(phone["refresh_token"]))
    assert refresh.status_code == 401
    assert me(auth, laptop["access_token"]) == 401  # replaced by the tokens just returned
    assert me(auth, renewed["access_token"]) == 200
    assert auth.client.post("/api/auth/refresh", headers=bearer(renewed["refresh_token"])
                            ).status_code == 200
    assert login(auth, "alice", PASSWORD).status_code == 401
    assert login(auth, "alice", NEW_PASSWORD).status_code == 200


def test_a_wrong_current_password_is_refused_and_counts_as_a_failed_login(auth, app):
    auth.user(username="alice", password=PASSWORD)
    token = login(auth, "alice", PASSWORD).get_json()["access_token"]
    wrong = change(auth, token, current="not-my-password")
    assert wrong.status_code == 403
    assert wrong.get_json()["errors"] == {"current_password": ["Wrong password."]}
    per_minute = int(app.config["LOGIN_FAILURE_LIMITS"].split()[0])
    for _ in range(per_minute - 1):
        assert change(auth, token, current="not-my-password").status_code == 403
    # a stolen token cannot be used to guess the password: the username's limit holds
    assert change(auth, token).status_code == 429
    assert me(auth, token) == 200


@pytest.mark.parametrize(("new", "reason"), [
    ("short", "at least 10 characters"),
    ("password123", "most common passwords"),
    (PASSWORD, "must differ"),
])
def test_a_weak_or_unchanged_new_password_is_422_naming_the_field(auth, new, reason):
    auth.user(username="alice", password=PASSWORD)
    token = login(auth, "alice", PASSWORD).get_json()["access_token"]
    response = change(auth, token, new=new)
    assert response.status_code == 422
    body = response.get_json()
    assert "new_password" in body["errors"] and reason in body["detail"]
    assert me(auth, token) == 200


def test_an_admin_resets_a_password_and_the_users_sessions_end(auth):
    alice = auth.user(username="alice", password=PASSWORD)
    token = login(auth, "alice", PASSWORD).get_json()["access_token"]
    admin = auth.headers("admin")
    path = f"/api/users/{alice.id}/password"
    assert auth.client.post(path, headers=auth.headers("operator"),
                            json={"new_password": NEW_PASSWORD}).status_code == 403
    assert auth.client.post("/api/users/999999/password", headers=admin,
                            json={"new_password": NEW_PASSWORD}).status_code == 404
    assert auth.client.post(path, headers=admin, json={"new_password": "weak"}
                            ).status_code == 422
    response = auth.client.post(path, headers=admin, json={"new_password": NEW_PASSWORD})
    assert response.status_code == 200
    assert me(auth, token) == 401
    assert login(auth, "alice", NEW_PASSWORD).status_code == 200


def test_flask_users_set_password(auth, app, db):
    auth.user(username="alice", password=PASSWORD)
    token = login(auth, "alice", PASSWORD).get_json()["access_token"]
    runner = app.test_cli_runner()
    weak = runner.invoke(args=["users", "set-password", "--username", "alice"],
                         input="weak\nweak\n")
    assert weak.exit_code != 0 and "at least 10 characters" in weak.output
    unknown = runner.invoke(args=["users", "set-password", "--username", "nobody"],
                            input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert unknown.exit_code != 0 and "no user" in unknown.output
    result = runner.invoke(args=["users", "set-password", "--username", "Alice"],
                           input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    db.session.remove()
    assert me(auth, token) == 401
    assert login(auth, "alice", NEW_PASSWORD).status_code == 200
