// CRMModel — module header; see Package.swift for what this module owns.
