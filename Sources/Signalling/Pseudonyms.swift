/// Random pseudonyms: adjective and animal plus two digits, distinct within a group, drawn fresh for
/// every session so they link nothing across sessions.
enum Pseudonyms {
    static let adjectives = [
        "amber", "brisk", "calm", "dusky", "eager", "fuzzy", "gentle", "hazel", "ivory", "jolly", "keen", "lucid",
        "misty", "noble", "olive", "plucky", "quiet", "rosy", "sunny", "tidy", "umber", "vivid", "witty", "zesty",
    ]
    static let animals = [
        "badger", "crane", "dolphin", "egret", "falcon", "gecko", "heron", "ibis", "jaguar", "koala", "lynx",
        "marten", "newt", "otter", "puffin", "quail", "raven", "seal", "tapir", "urchin", "vole", "walrus", "yak",
        "zebra",
    ]

    static func draw(for members: [String], using random: inout some RandomNumberGenerator) -> [String: String] {
        var taken: Set<String> = []
        var result: [String: String] = [:]
        for member in members {
            var name: String
            repeat {
                name =
                    "\(adjectives.randomElement(using: &random)!)-\(animals.randomElement(using: &random)!)-"
                    + "\(Int.random(in: 10...99, using: &random))"
            } while taken.contains(name)
            taken.insert(name)
            result[member] = name
        }
        return result
    }
}
