{%- set info = cookiecutter._family_info[cookiecutter.family] -%}
"""{{ cookiecutter.provider_name }}: a lendkit {{ cookiecutter.family }} provider plugin."""
from core import hookimpl

from {{ cookiecutter.package }}.provider import Provider


@hookimpl
def {{ info.hook }}():
    return {Provider.name: Provider}
