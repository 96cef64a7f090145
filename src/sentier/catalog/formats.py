"""Backstage's runtime format rules, which live in its code rather than in its JSON schemas.

Mirrors ``FieldFormatEntityPolicy`` with ``KubernetesValidatorFunctions``: names of up to 63
characters of letters, digits and ``-_.``; namespaces as DNS labels; tags in lower case;
label and annotation keys with an optional DNS-subdomain prefix.
"""

from __future__ import annotations

import re

_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_LABEL = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*(?:\.[a-z0-9]+(?:-[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[a-z0-9:+#]+(?:-[a-z0-9:+#]+)*$")
_KIND = re.compile(r"^[a-zA-Z][a-z0-9A-Z]*$")

MAX_NAME = 63
MAX_SUBDOMAIN = 253


def is_valid_object_name(value: object) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= MAX_NAME and bool(_NAME.match(value))


def is_valid_namespace(value: object) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= MAX_NAME and bool(_DNS_LABEL.match(value))


def is_valid_kind(value: object) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= MAX_NAME and bool(_KIND.match(value))


def is_valid_dns_subdomain(value: str) -> bool:
    return 1 <= len(value) <= MAX_SUBDOMAIN and bool(_DNS_SUBDOMAIN.match(value))


def is_valid_api_version(value: object) -> bool:
    """``group/version`` with a DNS-subdomain group and a DNS-label version (or bare ``v1``)."""
    if not isinstance(value, str):
        return False
    parts = value.split("/")
    if len(parts) == 1:
        return bool(_DNS_LABEL.match(value)) and len(value) <= MAX_NAME
    if len(parts) != 2:
        return False
    group, version = parts
    return (
        is_valid_dns_subdomain(group)
        and 1 <= len(version) <= MAX_NAME
        and bool(_DNS_LABEL.match(version))
    )


def is_valid_prefixed_key(value: object) -> bool:
    """Label and annotation keys: ``[prefix/]name``, the prefix a DNS subdomain."""
    if not isinstance(value, str):
        return False
    parts = value.split("/")
    if len(parts) == 1:
        return is_valid_object_name(value)
    if len(parts) != 2:
        return False
    return is_valid_dns_subdomain(parts[0]) and is_valid_object_name(parts[1])


def is_valid_label_value(value: object) -> bool:
    return isinstance(value, str) and (value == "" or is_valid_object_name(value))


def is_valid_tag(value: object) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= MAX_NAME and bool(_TAG.match(value))
