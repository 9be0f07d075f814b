"""OpenAPI links: from the answer of a create to the operations on the row it made.

Swagger UI shows them, and a stateful fuzzer follows them (create a station, then get,
change and delete that station). Derived from the paths, so a new feature gets its links
without writing any: ``POST /api/x`` links to every operation under ``/api/x/{x_id}``.
"""

import re

METHODS = ("get", "put", "patch", "post", "delete")
_PARAMETER = re.compile(r"\{(\w+)\}")


def add_links(spec):
    """Add create → row links to an OpenAPI document (a dict, changed in place); return it."""
    paths, schemas = spec["paths"], spec.get("components", {}).get("schemas", {})
    for collection, operations in paths.items():
        answers = operations.get("post", {}).get("responses", {})
        if _PARAMETER.search(collection) or not answers:
            continue
        for path, parameter in _row_paths(paths, collection):
            for status, answer in answers.items():
                pointer = _id_pointer(answer, parameter, schemas) if status[0] == "2" else None
                if pointer is None:
                    continue
                links = answer.setdefault("links", {})
                for method in METHODS:
                    if method in paths[path]:
                        links[_link_name(method, path.removeprefix(collection))] = {
                            "operationRef": f"#/paths/{_escape(path)}/{method}",
                            "parameters": {parameter: f"$response.body#{pointer}"}}
    return spec


def _row_paths(paths, collection):
    """``(path, parameter)`` of the paths naming one row of ``collection`` by a parameter.

    Those under the collection (``/api/stations/{station_id}...``), and those elsewhere whose
    one parameter is the row's name (``/api/monitor/capture/{area_config_id}``).
    """
    alias = collection.rsplit("/", 1)[-1].removesuffix("s").replace("-", "_") + "_id"
    for path in paths:
        found = _PARAMETER.findall(path)
        rest = path[len(collection) + 1:] if path.startswith(collection + "/") else ""
        if len(found) == 1 and (rest.startswith(f"{{{found[0]}}}") or found[0] == alias):
            yield path, found[0]


def _id_pointer(answer, parameter, schemas):
    """Where the new row's id is in the answer: ``/id``, or ``/<row>/id`` for a wrapper."""
    schema = _resolve(answer.get("content", {}).get("application/json", {}).get("schema"),
                      schemas)
    properties = schema.get("properties", {})
    if "id" in properties:
        return "/id"
    row = parameter.removesuffix("_id")
    if "id" in _resolve(properties.get(row), schemas).get("properties", {}):
        return f"/{row}/id"
    return None


def _resolve(schema, schemas):
    schema = schema or {}
    if "$ref" in schema:
        return schemas.get(schema["$ref"].rsplit("/", 1)[-1], {})
    return schema


def _link_name(method, path):
    return re.sub(r"[^A-Za-z0-9_.-]", "", f"{method}{path}".replace("/", "."))


def _escape(path):
    return path.replace("~", "~0").replace("/", "~1")
