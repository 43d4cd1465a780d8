"""join the domain branches (ledger, accounts, credit, delivery, lending, vendor, configuration) into one line

Revision ID: 0009
Revises: 0002, 0003, 0004, 0005, 0006, 0007, 0008

From here on every migration follows the one before it, so `lendkit db
upgrade` reaches a single head.
"""
revision = "0009"
down_revision = ("0002", "0003", "0004", "0005", "0006", "0007", "0008")
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
