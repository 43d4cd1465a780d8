"""The development SMS provider: an outbox file instead of a gateway."""
from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path

from marshmallow import Schema, fields

from core.sms import SmsProvider, SmsReceipt

_write_lock = threading.Lock()


class ConsoleSettings(Schema):
    #: Outbox file; ``{tenant}`` is replaced by the tenant's slug. Relative to the working directory.
    outbox = fields.Str(load_default="instance/sms-outbox-{tenant}.jsonl")


class ConsoleSms(SmsProvider):
    name = "console"
    title = "Development outbox (no messages leave the machine)"
    settings_schema = ConsoleSettings

    @property
    def outbox(self) -> Path:
        from core.plugins import instance_file

        return Path(instance_file(self.settings["outbox"].replace("{tenant}", self.tenant_slug)))

    def send(self, mobile: str, text: str) -> SmsReceipt:
        message_id = uuid.uuid4().hex
        record = {
            "id": message_id,
            "to": mobile,
            "text": text,
            "sent_at": datetime.now(timezone.utc).isoformat(),
        }
        path = self.outbox
        path.parent.mkdir(parents=True, exist_ok=True)
        with _write_lock, path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        return SmsReceipt(message_id=message_id, provider=self.name)

    def messages(self, mobile: str | None = None) -> list[dict]:
        """Messages in the outbox, oldest first (for the demo and tests)."""
        if not self.outbox.is_file():
            return []
        rows = [json.loads(line) for line in self.outbox.read_text(encoding="utf-8").splitlines() if line]
        return [r for r in rows if mobile is None or r["to"] == mobile]
