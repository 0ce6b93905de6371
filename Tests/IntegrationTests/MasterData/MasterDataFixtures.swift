import CRMMasterData

/// A customer record with the fields the store and shared-resolution tests vary.
func person(
    _ id: String, _ given: String?, _ family: String?, email: String? = nil, phone: String? = nil,
    street: String? = nil,
    city: String? = nil, postcode: String? = nil, country: String? = "GB", dob: String? = nil, system: String = "crm",
    updatedAt: Int64? = nil
) -> CustomerRecord {
    CustomerRecord(
        system: system, externalId: id, givenName: given, familyName: family, email: email, phone: phone,
        street: street,
        city: city, postcode: postcode, country: country, dateOfBirth: dob, updatedAt: updatedAt)
}
