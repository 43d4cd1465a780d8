"""The vendor console: the vendor's operators run the delivery of every tenant.

Served only on the vendor host (``LENDKIT_VENDOR_HOST``, ``vendor.localhost``
in development); every other host answers its paths with 404, and the vendor
host serves nothing else. Operators sign in with password and TOTP.
"""
