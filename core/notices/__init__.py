"""Notices: the announcements and disclosures a tenant publishes on its site."""
