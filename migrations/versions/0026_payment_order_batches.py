"""Payment order batches: each order is handed to its bank in one file only.

A bank fetching its orders (``GET /api/bank/payment-orders``) used to get every order still open (sent, not
yet credited or returned), so an order executed but not yet on an imported statement came again in the next
file under another MsgId: a bank that de-duplicated on MsgId alone would pay it twice.

Now a fetch takes the bank's sent orders that no earlier fetch took into a new batch, whose MsgId the file
carries; ``payment_order_batch_item.payout_id`` is the primary key, so the database refuses an order in
two batches. A batch whose file was lost is fetched again, the same orders under the same header (MsgId,
debtor account, dates), through ``GET /api/bank/payment-orders/batches/{message_id}``, or by repeating the
fetch with the same ``request_id``. Both tables are append-only.

Revision ID: 0026
Revises: 0025
Create Date: 2026-11-30
"""

from migrations.helpers import execute_script

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        CREATE TABLE payment_order_batch (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            bank_bin varchar(6) NOT NULL REFERENCES bank (bin),
            message_id text NOT NULL UNIQUE CHECK (message_id ~ '^[A-Za-z0-9-]{1,35}$'),
            fetched_by text NOT NULL,
            -- the bank's own id of the fetch: a retry with it gets this batch again
            request_id text CHECK (char_length(request_id) BETWEEN 1 AND 100),
            created_at timestamptz NOT NULL DEFAULT now(),
            order_count integer NOT NULL CHECK (order_count > 0),
            total_amount bigint NOT NULL CHECK (total_amount > 0),
            -- the file's header as handed out, so the file fetched again is the same
            debtor_account_number text NOT NULL,
            debtor_bank_name text NOT NULL,
            requested_execution_date date NOT NULL,
            CONSTRAINT uq_payment_order_batch_request UNIQUE (bank_bin, request_id)
        );
        CREATE INDEX ix_payment_order_batch_bank ON payment_order_batch (bank_bin, created_at);
        -- An order (a payout) is presented to its bank in one batch, once.
        CREATE TABLE payment_order_batch_item (
            payout_id uuid PRIMARY KEY REFERENCES payout (id),
            batch_id bigint NOT NULL REFERENCES payment_order_batch (id)
        );
        CREATE INDEX ix_payment_order_batch_item_batch ON payment_order_batch_item (batch_id);
        CREATE TRIGGER payment_order_batch_append_only BEFORE UPDATE OR DELETE ON payment_order_batch
            FOR EACH ROW EXECUTE FUNCTION refuse_change();
        CREATE TRIGGER payment_order_batch_item_append_only BEFORE UPDATE OR DELETE ON payment_order_batch_item
            FOR EACH ROW EXECUTE FUNCTION refuse_change();
        CREATE TRIGGER payment_order_batch_no_truncate BEFORE TRUNCATE ON payment_order_batch
            FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
        CREATE TRIGGER payment_order_batch_item_no_truncate BEFORE TRUNCATE ON payment_order_batch_item
            FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
        """
    )


def downgrade() -> None:
    execute_script("DROP TABLE payment_order_batch_item; DROP TABLE payment_order_batch;")
