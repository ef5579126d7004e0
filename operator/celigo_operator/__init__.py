"""celigo-operator: runs ConductorOne's baton-celigo connector from one CeligoConnector resource."""

__version__ = "0.1.0"
