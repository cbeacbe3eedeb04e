"""A user's module that calls sys.exit() as it is imported (a script run as a module by mistake): naming it
as ``user_exit_on_import:Env-v0`` or ``--policy user_exit_on_import:make`` must be a one-line error."""

import sys

sys.exit(3)
