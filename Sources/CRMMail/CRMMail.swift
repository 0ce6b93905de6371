// CRMMail: e-mail connectors.
