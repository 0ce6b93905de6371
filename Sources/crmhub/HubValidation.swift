import CRMHub

/// Cross-file checks shared by `validate` and `run`.
enum HubValidation {
    /// Problems with the mappings the routes name.
    static func mappingProblems(_ configuration: HubConfiguration) -> [String] {
        []
    }
}
