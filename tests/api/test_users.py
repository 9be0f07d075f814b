"""User administration: admins only, no self-promotion, shared pagination."""

import pytest

from app.models import User


def test_admin_lists_users_with_the_pagination_envelope(auth):
    headers = auth.headers("admin")
    for _ in range(3):
        auth.user("viewer")
    response = auth.client.get("/api/users?limit=2&offset=1", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["total"] == 4 and body["limit"] == 2 and body["offset"] == 1
    assert len(body["items"]) == 2
    assert all("password_hash" not in item for item in body["items"])


def test_huge_limit_is_capped(auth, app):
    headers = auth.headers("admin")
    body = auth.client.get("/api/users?limit=100000000", headers=headers).get_json()
    assert body["limit"] == app.config["PAGE_MAX_LIMIT"]


@pytest.mark.parametrize("query, field", [("limit=0", "limit"), ("offset=-1", "offset"),
                                          ("limit=abc", "limit"), ("role=king", "role")])
def test_bad_list_arguments_are_422_naming_the_parameter(auth, query, field):
    response = auth.client.get(f"/api/users?{query}", headers=auth.headers("admin"))
    assert response.status_code == 422
    assert field in response.get_json()["errors"]


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_non_admins_get_403(auth, role):
    headers = auth.headers(role)
    assert auth.client.get("/api/users", headers=headers).status_code == 403
    target = auth.user("viewer")
    response = auth.client.patch(f"/api/users/{target.id}", json={"role": "admin"},
                                 headers=headers)
    assert response.status_code == 403
    assert response.get_json()["detail"].startswith("This action needs the role admin")


def test_admin_changes_a_role_and_the_user_gets_it(auth, db):
    target = auth.user("viewer")
    response = auth.client.patch(f"/api/users/{target.id}", json={"role": "operator"},
                                 headers=auth.headers("admin"))
    assert response.status_code == 200 and response.get_json()["role"] == "operator"
    db.session.expire_all()
    assert db.session.get(User, target.id).role == "operator"


def test_admin_cannot_change_their_own_role(auth):
    admin = auth.user("admin")
    response = auth.client.patch(f"/api/users/{admin.id}", json={"role": "viewer"},
                                 headers=auth.headers(user=admin))
    assert response.status_code == 403


def test_patch_refuses_password_hash_and_unknown_ids(auth):
    headers = auth.headers("admin")
    target = auth.user("viewer")
    response = auth.client.patch(f"/api/users/{target.id}", json={"password_hash": "x"},
                                 headers=headers)
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"password_hash": ["Unknown field."]}
    assert auth.client.get("/api/users/999999", headers=headers).status_code == 404


def test_role_change_takes_effect_on_existing_tokens(auth, db):
    user = auth.user("admin")
    headers = auth.headers(user=user)
    assert auth.client.get("/api/users", headers=headers).status_code == 200
    user.role = "viewer"
    db.session.commit()
    assert auth.client.get("/api/users", headers=headers).status_code == 403
