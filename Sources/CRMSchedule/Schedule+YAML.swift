import CRMYAML

extension Schedule {
    /// Reads `{cron: "0 2 * * *", time_zone: Europe/London, blackout: [{start: "01:00", end: "03:00", weekdays: [0]}],
    /// catch_up: run-once}` (the batch jobs' and workflow rules' `schedule:`); problems are located in the file.
    public init(yaml value: YAMLValue) throws(YAMLError) {
        let map = try value.mapping()
        try map.allowOnly(["cron", "time_zone", "blackout", "catch_up"])
        let cron = try map.require("cron").nonEmptyString()
        let zone = try map.optional("time_zone")?.nonEmptyString() ?? "UTC"
        var blackouts: [BlackoutWindow] = []
        for item in try map.optional("blackout")?.sequence() ?? [] {
            let window = try item.mapping()
            try window.allowOnly(["start", "end", "weekdays"])
            let days =
                try window.optional("weekdays")?.sequence().map { day throws(YAMLError) in try day.int(in: 0...6) }
                ?? []
            let start = try window.require("start").string()
            let end = try window.require("end").string()
            do {
                blackouts.append(try BlackoutWindow(start: start, end: end, weekdays: Set(days)))
            } catch {
                throw item.error("\(error)")
            }
        }
        let catchUpText =
            try map.optional("catch_up")?.oneOf(CatchUpPolicy.allCases.map(\.rawValue))
            ?? CatchUpPolicy.runOnce.rawValue
        do {
            try self.init(
                cron: cron, timeZone: zone, blackouts: blackouts,
                catchUp: CatchUpPolicy(rawValue: catchUpText) ?? .runOnce)
        } catch {
            throw value.error("\(error)")
        }
    }
}
