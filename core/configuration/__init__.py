"""Versioned site configuration edited in the tenant admin console.

``tenant.yaml`` is the vendor's starting configuration. A tenant admin may
change some sections of it (branding today; products and rules as they
arrive) in the console: each save is a new numbered version of that
section, validated by the same schema as the file, applied at once, and
layered over ``tenant.yaml`` on every ``lendkit tenant sync``. Rolling back
writes a new version equal to an old one; nothing is ever edited or lost.
"""
