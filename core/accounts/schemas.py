"""marshmallow schemas of the accounts API. Personal data is always dumped masked."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.accounts.models import CUSTOMER_ROLES, KYC_STATUSES, STAFF_ROLES, USER_KINDS


class CodeRequestSchema(Schema):
    mobile = fields.Str(required=True, metadata={"description": "Mainland mobile number, 11 digits"})
    purpose = fields.Str(required=True, validate=validate.OneOf(("register", "reset_password")))


class SentCodeSchema(Schema):
    masked_mobile = fields.Str()
    expires_at = fields.DateTime()
    resend_after = fields.Int(metadata={"description": "Seconds before another code can be asked for"})


class RegisterSchema(Schema):
    mobile = fields.Str(required=True)
    code = fields.Str(required=True, metadata={"description": "The SMS code (purpose register)"})
    password = fields.Str(required=True, load_only=True)
    kind = fields.Str(load_default="person", validate=validate.OneOf(USER_KINDS))
    roles = fields.List(fields.Str(validate=validate.OneOf(CUSTOMER_ROLES)), load_default=lambda: ["investor"])
    accept_terms = fields.Bool(required=True, metadata={"description": "The terms (/legal/terms) and privacy policy (/legal/privacy) are accepted"})


class LoginSchema(Schema):
    mobile = fields.Str(required=True)
    password = fields.Str(required=True, load_only=True)
    totp = fields.Str(load_default=None, metadata={"description": "Authenticator code; required for staff"})


class ResetSchema(Schema):
    mobile = fields.Str(required=True)
    code = fields.Str(required=True)
    password = fields.Str(required=True, load_only=True)


class UserSchema(Schema):
    id = fields.Int()
    kind = fields.Str()
    mobile = fields.Str(attribute="masked_mobile", metadata={"description": "Masked: 138****5678"})
    roles = fields.Method("_roles")
    permissions = fields.Method("_permissions")
    kyc_status = fields.Method("_kyc", metadata={"description": "none, pending, approved or rejected"})
    transaction_password_set = fields.Method("_tx")
    created_at = fields.DateTime()

    def _roles(self, user):
        return sorted(user.role_names)

    def _permissions(self, user):
        from core.accounts.roles import permissions_of

        return permissions_of(user.role_names)

    def _kyc(self, user):
        from core.accounts.kyc import kyc_status

        return kyc_status(user)

    def _tx(self, user):
        return user.transaction_password_hash is not None


class TokenSchema(Schema):
    token = fields.Str()
    token_type = fields.Str()
    expires_at = fields.DateTime()
    user = fields.Nested(UserSchema)


class RolesSchema(Schema):
    roles = fields.List(fields.Str(validate=validate.OneOf(CUSTOMER_ROLES)), required=True)


class PasswordChangeSchema(Schema):
    current_password = fields.Str(required=True, load_only=True)
    new_password = fields.Str(required=True, load_only=True)


class TransactionPasswordSchema(Schema):
    login_password = fields.Str(required=True, load_only=True)
    transaction_password = fields.Str(required=True, load_only=True)


class MobileCodeSchema(Schema):
    which = fields.Str(required=True, validate=validate.OneOf(("old", "new")))
    new_mobile = fields.Str(load_default=None)


class MobileChangeSchema(Schema):
    old_code = fields.Str(required=True)
    new_mobile = fields.Str(required=True)
    new_code = fields.Str(required=True)


class DocumentSchema(Schema):
    kind = fields.Str()
    content_type = fields.Str()
    size = fields.Int()


class KycApplicationSchema(Schema):
    id = fields.Int()
    user_id = fields.Int()
    kind = fields.Str()
    status = fields.Str()
    name = fields.Str(attribute="masked_name")
    id_number = fields.Method("_id_number")
    company_name = fields.Str(allow_none=True)
    uscc = fields.Method("_uscc")
    bureau_result = fields.Str()
    submitted_at = fields.DateTime()
    reviewed_at = fields.DateTime(allow_none=True)
    reject_reason = fields.Str(allow_none=True)
    documents = fields.List(fields.Nested(DocumentSchema))

    def _id_number(self, application):
        return application.masked_id_number if application.id_number_sealed else None

    def _uscc(self, application):
        return application.masked_uscc if application.uscc_sealed else None


class KycStatusSchema(Schema):
    status = fields.Str()
    application = fields.Nested(KycApplicationSchema, allow_none=True)


class PersonKycFormSchema(Schema):
    real_name = fields.Str(required=True)
    id_number = fields.Str(required=True)


class EnterpriseKycFormSchema(Schema):
    company_name = fields.Str(required=True)
    uscc = fields.Str(required=True)
    legal_representative = fields.Str(required=True)


class BankCardSchema(Schema):
    id = fields.Int()
    number = fields.Str(attribute="masked_number", metadata={"description": "Masked: 6222 **** **** 0123"})
    bank_name = fields.Str()
    status = fields.Str(metadata={"description": "pending (custody account being opened), active or failed"})
    failure_reason = fields.Str(allow_none=True)
    created_at = fields.DateTime()


class BindCardSchema(Schema):
    card_number = fields.Str(required=True)
    bank_name = fields.Str(load_default="")


class KycQuerySchema(Schema):
    status = fields.Str(load_default="pending", validate=validate.OneOf(KYC_STATUSES))


class RejectSchema(Schema):
    reason = fields.Str(required=True)


class UserQuerySchema(Schema):
    q = fields.Str(required=True, metadata={"description": "A whole mobile number, identity number or user number"})


class StaffUserSchema(UserSchema):
    locked = fields.Method("_locked")
    kyc = fields.Method("_application")
    bank_cards = fields.Method("_cards")

    def _locked(self, user):
        from core.accounts.signin import is_locked

        return is_locked(user)

    def _application(self, user):
        from core.accounts.kyc import latest_application

        application = latest_application(user)
        return KycApplicationSchema().dump(application) if application else None

    def _cards(self, user):
        from core.accounts.cards import cards_of

        return BankCardSchema(many=True).dump(cards_of(user))


class RevealSchema(Schema):
    field = fields.Str(required=True, validate=validate.OneOf(("mobile", "name", "id_number", "uscc", "bank_card")))


class RevealedSchema(Schema):
    field = fields.Str()
    value = fields.Str()


class StaffRolesSchema(Schema):
    roles = fields.List(fields.Str(validate=validate.OneOf(STAFF_ROLES)), required=True)


class AuditQuerySchema(Schema):
    limit = fields.Int(load_default=100, validate=validate.Range(1, 1000))


class AuditRecordSchema(Schema):
    seq = fields.Int()
    created_at = fields.DateTime()
    event = fields.Str()
    actor = fields.Str()
    target = fields.Str()
    details = fields.Str()
    ip = fields.Str()
    hash = fields.Str()
