import CRMHub

/// Cross-file checks shared by `validate` and `run`.
enum HubValidation {
    /// Problems with the mappings the routes name. The mapping engine is not part of this build yet, so a route
    /// that names a mapping is refused rather than silently passing messages through unchanged.
    static func mappingProblems(_ configuration: HubConfiguration) -> [String] {
        configuration.routes.compactMap { route in
            guard let mapping = route.mapping else { return nil }
            return "\(route.location): route '\(route.name)' names mapping '\(mapping)', but this build has no mapping engine yet; "
                + "remove `mapping:` to pass messages through unchanged"
        }
    }
}
