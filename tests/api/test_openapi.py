"""The OpenAPI document covers every route, validates, and Swagger UI works offline."""

import re

from openapi_spec_validator import validate

NOT_API = {"static", "flasgger.static", "flasgger.apidocs", "flasgger.oauth_redirect",
           "flasgger.apispec", "flasgger.<lambda>"}


def spec_path(rule):
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)


def test_spec_is_valid_openapi_3(client):
    response = client.get("/apispec.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    validate(spec)


def test_every_route_is_documented_with_its_methods(app, client):
    spec = client.get("/apispec.json").get_json()
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in NOT_API or not rule.rule.startswith("/api"):
            continue
        documented = spec["paths"].get(spec_path(rule), {})
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if method.lower() not in documented:
                missing.append(f"{method} {rule.rule}")
    assert missing == []


def test_protected_operations_declare_bearer_auth_and_401(client):
    spec = client.get("/apispec.json").get_json()
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    me = spec["paths"]["/api/auth/me"]["get"]
    assert me["security"] == [{"bearerAuth": []}]
    assert "401" in me["responses"]
    errors = spec["components"]["responses"]["UNPROCESSABLE_ENTITY"]["content"]
    assert "application/problem+json" in errors


def test_swagger_ui_is_served_from_bundled_assets(client):
    page = client.get("/apidocs/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/apispec.json" in html
    # Nothing the page loads (scripts, styles, fonts) comes from another host.
    external = re.findall(r'src="(https?://[^"]+)"', html)
    external += re.findall(r'<link[^>]*href="(https?://[^"]+)"', html)
    assert external == []
    for asset in re.findall(r'(?:src|href)="(/flasgger_static/[^"]+)"', html):
        assert client.get(asset).status_code == 200, asset


def test_a_create_links_to_what_can_be_done_with_the_row_it_made(client):
    spec = client.get("/apispec.json").get_json()
    links = spec["paths"]["/api/stations"]["post"]["responses"]["201"]["links"]
    assert {name: link["operationRef"] for name, link in links.items()} == {
        f"{method}.station_id": f"#/paths/~1api~1stations~1{{station_id}}/{method}"
        for method in ("get", "patch", "delete")}
    assert links["get.station_id"]["parameters"] == {"station_id": "$response.body#/id"}
    incident = spec["paths"]["/api/incidents"]["post"]["responses"]["201"]["links"]
    assert incident["post.incident_id.status"]["parameters"] == {
        "incident_id": "$response.body#/incident/id"}
    area = spec["paths"]["/api/area-configs"]["post"]["responses"]["201"]["links"]
    assert area["post.api.monitor.capture.area_config_id"]["operationRef"] == (
        "#/paths/~1api~1monitor~1capture~1{area_config_id}/post")
