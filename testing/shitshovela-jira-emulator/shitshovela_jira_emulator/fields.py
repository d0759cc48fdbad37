"""Jira's field rules: what a create or an edit may set, and how each value is checked.

`apply` validates the ``fields`` and ``update`` of an IssueUpdateDetails body
(create and edit) and returns the changes and Jira's per-field error messages;
the ``check_*`` functions are the rules of one field each (summary, description,
labels, components, priority, issue properties), worded as Jira words them.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

from . import render
from .messages import Reject, error
from .state import PRIORITIES, IssueRecord, _Project

if TYPE_CHECKING:
    from .site import Site

__all__ = [
    "apply",
    "check_components",
    "check_description",
    "check_label",
    "check_priority",
    "check_properties",
    "check_summary",
    "ref",
]

SUMMARY_MAX = 255
LABEL_MAX = 255
PROPERTY_KEY_MAX = 255
PROPERTY_VALUE_MAX = 32768


def check_description(
    site: Site, value: Any, api: str, errors: dict[str, str]
) -> tuple[str | None, dict[str, Any] | None]:
    """The description as text and as ADF (v3) or plain text (v2); within the size limit."""
    if value is None:
        return None, None
    if api == "3":
        problem = render.adf_problem(value)
        if problem:
            errors["description"] = problem
            return None, None
        text = render.adf_text(value)
        adf: dict[str, Any] | None = copy.deepcopy(value)
    else:
        if not isinstance(value, str):
            errors["description"] = "Operation value must be a string"
            return None, None
        text, adf = value, None
    if len(text) > site.description_max:
        errors["description"] = (
            "The entered text is too long. It exceeds the allowed limit of "
            f"{site.description_max:,} characters."
        )
    return text, adf


def check_label(label: Any, errors: dict[str, str]) -> str | None:
    """A label: a string without spaces, neither empty nor too long."""
    if not isinstance(label, str):
        errors["labels"] = "Labels must be strings."
        return None
    if label == "":
        errors["labels"] = "The label '' is invalid: a label cannot be empty."
    elif any(c.isspace() for c in label):
        errors["labels"] = f"The label '{label}' contains spaces which is invalid."
    elif len(label) > LABEL_MAX:
        errors["labels"] = (
            f"The label '{label}' exceeds the maximum length for a single label of "
            f"{LABEL_MAX} characters."
        )
    else:
        return label
    return None


def check_summary(value: Any, errors: dict[str, str]) -> str | None:
    """A summary: one non-empty line of at most 255 characters."""
    if not isinstance(value, str) or not value.strip():
        errors["summary"] = "You must specify a summary of the issue."
        return None
    if "\n" in value or "\r" in value:
        errors["summary"] = "The summary is invalid because it contains newline characters."
        return None
    if len(value) > SUMMARY_MAX:
        errors["summary"] = f"Summary must be less than {SUMMARY_MAX} characters."
        return None
    return value


def ref(value: Any) -> tuple[str | None, str | None]:
    """``(id, name)`` of a ``{"id": ...}`` or ``{"name": ...}`` reference."""
    if isinstance(value, dict):
        rid, rname = value.get("id"), value.get("name")
        return (str(rid) if rid is not None else None), (str(rname) if rname is not None else None)
    return None, None


def check_components(value: Any, project: _Project, errors: dict[str, str]) -> list[str] | None:
    """Component names, each given by id or name and known to the project."""
    if not isinstance(value, list):
        errors["components"] = "Components must be a list."
        return None
    out: list[str] = []
    by_id = {cid: n for n, cid in project.components.items()}
    for item in value:
        cid, cname = ref(item)
        if cid is not None and cid in by_id:
            out.append(by_id[cid])
        elif cname is not None and cname in project.components:
            out.append(cname)
        else:
            errors["components"] = (
                f"Component name '{cname}' is not valid"
                if cname is not None
                else f"Component with id '{cid}' does not exist."
            )
            return None
    return out


def check_priority(value: Any, errors: dict[str, str]) -> str | None:
    """A priority known to Jira, by id or (case-insensitive) name."""
    pid, pname = ref(value)
    for i, n in PRIORITIES:
        if pid == i or (pname is not None and pname.lower() == n.lower()):
            return n
    errors["priority"] = "Specify a valid priority"
    return None


def check_properties(value: Any) -> dict[str, Any]:
    """Issue properties set at create or edit: keys and value sizes within Jira's limits."""
    if value is None:
        return {}
    if not isinstance(value, list):
        raise Reject(error(400, "Issue properties must be a list."))
    out: dict[str, Any] = {}
    for prop in value:
        if not isinstance(prop, dict) or not isinstance(prop.get("key"), str):
            raise Reject(error(400, "The property key must be specified."))
        key = prop["key"]
        if not key or len(key) > PROPERTY_KEY_MAX:
            raise Reject(error(400, "The property key must be between 1 and 255 characters long."))
        if "value" not in prop:
            raise Reject(error(400, f"The property '{key}' has no value."))
        size = len(json.dumps(prop["value"], ensure_ascii=False).encode("utf-8"))
        if size > PROPERTY_VALUE_MAX:
            raise Reject(
                error(
                    400,
                    f"The property value of '{key}' exceeds the maximum length of "
                    f"{PROPERTY_VALUE_MAX} bytes.",
                )
            )
        out[key] = copy.deepcopy(prop["value"])
    return out


def apply(
    site: Site,
    body: Any,
    api: str,
    *,
    project: _Project,
    current: IssueRecord | None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate ``fields``/``update`` of an IssueUpdateDetails; return (changes, errors)."""
    if not isinstance(body, dict):
        raise Reject(error(400, "Can not deserialize the request body: not an object."))
    fields = body.get("fields") or {}
    update = body.get("update") or {}
    if not isinstance(fields, dict):
        raise Reject(
            error(
                400,
                f"Can not deserialize instance of fields out of {type(fields).__name__} token",
            )
        )
    if not isinstance(update, dict):
        raise Reject(
            error(
                400,
                f"Can not deserialize instance of update out of {type(update).__name__} token",
            )
        )
    errors: dict[str, str] = {}
    changes: dict[str, Any] = {}
    creating = current is None
    both = set(fields) & set(update)
    for name in both:
        errors[name] = f"Field '{name}' cannot be set and updated in the same request."

    allowed = {
        "summary",
        "description",
        "labels",
        "components",
        "priority",
        "issuetype",
        "project",
        *site.custom_fields,
    }
    for name, value in fields.items():
        if name in both:
            continue
        if name not in allowed or (name == "project" and not creating):
            errors[name] = (
                f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
            )
        elif name == "summary":
            summary = check_summary(value, errors)
            if summary is not None:
                changes["summary"] = summary
        elif name == "description":
            text, adf = check_description(site, value, api, errors)
            if "description" not in errors:
                changes["description"], changes["description_adf"] = text, adf
        elif name == "labels":
            if not isinstance(value, list):
                errors["labels"] = "Labels must be a list of strings."
            else:
                labels = [check_label(v, errors) for v in value]
                if "labels" not in errors:
                    changes["labels"] = [lb for lb in labels if lb is not None]
        elif name == "components":
            comps = check_components(value, project, errors)
            if comps is not None:
                changes["components"] = comps
        elif name == "priority":
            prio = check_priority(value, errors)
            if prio is not None:
                changes["priority"] = prio
        elif name == "issuetype":
            tid, tname = ref(value)
            found = next(
                (
                    t
                    for t in project.issue_types
                    if t == tname or site.state.issue_type_ids.get(t) == tid
                ),
                None,
            )
            if found is None:
                errors["issuetype"] = "Specify a valid issue type"
            else:
                changes["issuetype"] = found
        elif name in site.custom_fields:
            custom = dict(current.custom_fields) if current else {}
            custom.update(changes.get("custom_fields", {}))
            custom[name] = copy.deepcopy(value)
            changes["custom_fields"] = custom

    for name, ops in update.items():
        if name in both:
            continue
        if name not in ("labels", "components", "summary", "description", "priority"):
            errors[name] = (
                f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
            )
            continue
        if not isinstance(ops, list):
            errors[name] = f"Operations on '{name}' must be a list."
            continue
        for op in ops:
            if not isinstance(op, dict) or len(op) != 1:
                errors[name] = f"Each operation on '{name}' must have exactly one verb."
                break
            verb, arg = next(iter(op.items()))
            if name in ("labels", "components"):
                base_list: list[str] = list(
                    changes.get(name, getattr(current, name) if current else [])
                )
                if verb == "set":
                    if name == "labels":
                        if not isinstance(arg, list):
                            errors[name] = "Labels must be a list of strings."
                            break
                        new = [check_label(v, errors) for v in arg]
                        base_list = [x for x in new if x is not None]
                    else:
                        comps = check_components(arg, project, errors)
                        base_list = comps or []
                elif verb in ("add", "remove"):
                    if name == "labels":
                        item = check_label(arg, errors)
                    else:
                        got = check_components([arg], project, errors)
                        item = got[0] if got else None
                    if item is None:
                        break
                    if verb == "add" and item not in base_list:
                        base_list.append(item)
                    if verb == "remove":
                        base_list = [x for x in base_list if x != item]
                else:
                    errors[name] = f"Operation '{verb}' is not supported for '{name}'."
                    break
                if name not in errors:
                    changes[name] = base_list
            elif verb != "set":
                errors[name] = f"Operation '{verb}' is not supported for '{name}'."
                break
            elif name == "summary":
                summary = check_summary(arg, errors)
                if summary is not None:
                    changes["summary"] = summary
            elif name == "description":
                text, adf = check_description(site, arg, api, errors)
                if "description" not in errors:
                    changes["description"], changes["description_adf"] = text, adf
            elif name == "priority":
                prio = check_priority(arg, errors)
                if prio is not None:
                    changes["priority"] = prio
    return changes, errors
