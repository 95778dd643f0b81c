"""The one set of test factories, a module per room, all importable from here: ``from tests.factories import X``."""

from tests.factories.helpline import (
    CALLER_NAME,
    CALLER_NUMBER,
    T0,
    AdmissionRequestFactory,
    CallbackLegFactory,
    CallEventFactory,
    CallFactory,
    DialAttemptFactory,
    HelplineNumberFactory,
    billed_call,
    disclosure_wording,
)
from tests.factories.partners import FacilityFactory, OpeningHoursFactory, PartnerFactory, PartnerUserFactory
from tests.factories.users import StaffFactory, UserFactory

__all__ = [
    "CALLER_NAME",
    "CALLER_NUMBER",
    "T0",
    "AdmissionRequestFactory",
    "CallEventFactory",
    "CallFactory",
    "CallbackLegFactory",
    "DialAttemptFactory",
    "FacilityFactory",
    "HelplineNumberFactory",
    "OpeningHoursFactory",
    "PartnerFactory",
    "PartnerUserFactory",
    "StaffFactory",
    "UserFactory",
    "billed_call",
    "disclosure_wording",
]
