"""The tamper-evident record: every change a person or a machine makes, who made it and
from where, in a hash chain that `dutyd audit verify` walks."""
