/// Fixtures the CTI tests share (unit tests on the mock cluster and integration tests with real peers).
public enum CTIFixtures {
    /// The customer table the CTI tests resolve callers against: the caller 020 7946 0018 (UK) is Ada Lovelace,
    /// customer C-1001, with one open ticket.
    public static let customersCSV = """
        phone,customer_ref,display_name,open_tickets
        020 7946 0018,C-1001,Ada Lovelace,T-77:open:Router keeps rebooting

        """
}
