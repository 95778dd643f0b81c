"""The partners app's models: the directory (partners, facilities, hours) and billing (ledger, invoices, webhooks).

One package so that ``partners.models`` is the one import path for both; the
two modules never import each other at module level.
"""

from partners.models.billing import *  # noqa: F403
from partners.models.directory import *  # noqa: F403
