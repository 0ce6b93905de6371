@main struct CRMHubCommand { static func main() {} }
