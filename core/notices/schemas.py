from marshmallow import Schema, fields


class NoticeSchema(Schema):
    id = fields.Int(dump_only=True)
    kind = fields.Str(metadata={"description": "announcement or disclosure"})
    title = fields.Str()
    body = fields.Str()
    published_at = fields.DateTime()


class NoticeQuerySchema(Schema):
    kind = fields.Str(metadata={"description": "Only notices of this kind"})
