@main struct MappingBench { static func main() {} }
