"""Filters for the tenant template: ``y`` writes any value as a safe YAML scalar."""
import json

from cookiecutter.utils import simple_filter


@simple_filter
def y(value):
    """A YAML-safe scalar or flow collection (JSON is YAML), keeping Chinese readable."""
    return json.dumps(value, ensure_ascii=False)
