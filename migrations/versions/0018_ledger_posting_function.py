"""the ledger's posting function: a small entry checked and written in one round trip on PostgreSQL

``lendkit_ledger_record`` does on the server what ``core.ledger.journal.write_entry``
did in two statements and Python between them: it resolves the lines' accounts,
checks the currencies and that the lines sum to zero per currency, changes each
account in id order only while its floor holds (a conditional UPDATE: the row
lock and the check in one step), inserts the entry under its idempotency key and
its lines. A refusal or a replay writes nothing (what the call changed is put
back) and is reported as an outcome, never as an error, so the caller's
transaction stays usable; the caller then explains a refusal with the Python
check. SQLite has no such function: there the Python path is the only one.

Revision ID: 0018
Revises: 0017
"""
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

FUNCTION = r"""
CREATE OR REPLACE FUNCTION lendkit_ledger_record(
    p_tenant integer, p_key varchar, p_digest varchar, p_kind varchar, p_memo varchar, p_pending boolean,
    p_reversal_of integer, p_request_no varchar, p_value_date date, p_now timestamptz,
    p_codes varchar[], p_amounts bigint[], p_currencies varchar[],
    OUT o_entry_id integer, OUT o_outcome text)
LANGUAGE plpgsql AS $$
DECLARE
    v_refused boolean;
    v_line_ids integer[];
    v_line_currencies varchar[];
    v_ids integer[];
    v_posted bigint[];
    v_pd bigint[];
    v_pc bigint[];
    v_done integer := 0;
BEGIN
    -- every line's account and currency (nothing locked yet)
    SELECT array_agg(a.id ORDER BY t.n), array_agg(a.currency ORDER BY t.n),
           bool_or(a.id IS NULL OR (t.currency IS NOT NULL AND t.currency <> a.currency))
      INTO v_line_ids, v_line_currencies, v_refused
      FROM unnest(p_codes, p_currencies) WITH ORDINALITY AS t(code, currency, n)
      LEFT JOIN ledger_account AS a ON a.tenant_id = p_tenant AND a.code = t.code;
    IF v_refused OR EXISTS (SELECT 1 FROM unnest(v_line_currencies, p_amounts) AS t(currency, amount)
                            GROUP BY t.currency HAVING sum(t.amount) <> 0) THEN
        o_outcome := 'refused';
        RETURN;
    END IF;
    -- what the entry changes on each account, in account id order
    SELECT array_agg(d.id ORDER BY d.id), array_agg(d.posted ORDER BY d.id), array_agg(d.pd ORDER BY d.id),
           array_agg(d.pc ORDER BY d.id)
      INTO v_ids, v_posted, v_pd, v_pc
      FROM (SELECT t.id,
                   sum(CASE WHEN p_pending THEN 0 ELSE t.amount END) AS posted,
                   sum(CASE WHEN p_pending AND t.amount > 0 THEN t.amount ELSE 0 END) AS pd,
                   sum(CASE WHEN p_pending AND t.amount < 0 THEN -t.amount ELSE 0 END) AS pc
            FROM unnest(v_line_ids, p_amounts) AS t(id, amount) GROUP BY t.id) AS d;
    -- each account changed in id order (the order every writer locks in), only while its floor holds
    FOR i IN 1 .. array_length(v_ids, 1) LOOP
        UPDATE ledger_account
           SET balance = balance + v_posted[i], pending_debit = pending_debit + v_pd[i],
               pending_credit = pending_credit + v_pc[i]
         WHERE tenant_id = p_tenant AND id = v_ids[i]
           AND (custody_bucket IS NULL OR CASE WHEN normal_side = 'debit'
                THEN v_pc[i] - v_posted[i] <= 0 OR (balance + v_posted[i]) - (pending_credit + v_pc[i]) >= 0
                ELSE v_pd[i] + v_posted[i] <= 0 OR 0 - (balance + v_posted[i]) - (pending_debit + v_pd[i]) >= 0 END);
        IF NOT FOUND THEN
            o_outcome := 'refused';
            EXIT;
        END IF;
        v_done := i;
    END LOOP;
    IF o_outcome IS NULL THEN
        INSERT INTO journal_entry (tenant_id, idempotency_key, digest, kind, memo, state, reversal_of, request_no,
                                   value_date, created_at, posted_at)
        VALUES (p_tenant, p_key, p_digest, p_kind, p_memo, CASE WHEN p_pending THEN 'pending' ELSE 'posted' END,
                p_reversal_of, p_request_no, CASE WHEN p_pending THEN NULL ELSE p_value_date END, p_now,
                CASE WHEN p_pending THEN NULL ELSE p_now END)
        ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
        RETURNING id INTO o_entry_id;
        IF o_entry_id IS NULL THEN  -- a concurrent writer committed this key first
            SELECT id INTO o_entry_id FROM journal_entry WHERE tenant_id = p_tenant AND idempotency_key = p_key;
            o_outcome := 'replay';
        END IF;
    END IF;
    IF o_outcome IS NOT NULL THEN  -- undo what this call changed: the accounts hold what they held
        FOR i IN 1 .. v_done LOOP
            UPDATE ledger_account
               SET balance = balance - v_posted[i], pending_debit = pending_debit - v_pd[i],
                   pending_credit = pending_credit - v_pc[i]
             WHERE tenant_id = p_tenant AND id = v_ids[i];
        END LOOP;
        RETURN;
    END IF;
    INSERT INTO journal_line (tenant_id, entry_id, account_id, amount, currency)
    SELECT p_tenant, o_entry_id, t.id, t.amount, t.currency
      FROM unnest(v_line_ids, p_amounts, v_line_currencies) AS t(id, amount, currency);
    o_outcome := 'created';
END
$$;
"""


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS lendkit_ledger_record(integer, varchar, varchar, varchar, varchar, boolean,"
                   " integer, varchar, date, timestamptz, varchar[], bigint[], varchar[])")
