import Foundation
import NIOCore
import Testing
import WebPage

/// The bundled page as files: every module it imports is there, every text it shows is in strings.js, and
/// nothing comes from another site.
@Suite("The bundled web page's files")
struct WebSiteContentTests {
    let site: WebSite

    init() throws { site = try WebSite.bundled() }

    func text(_ path: String) throws -> String {
        let file = try #require(site.files[path], "\(path) is in the site")
        return String(decoding: file.body.readableBytesView, as: UTF8.self)
    }

    func matches(_ pattern: String, in text: String) throws -> [String] {
        let expression = try NSRegularExpression(pattern: pattern)
        return expression.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap {
            Range($0.range(at: 1), in: text).map { String(text[$0]) }
        }
    }

    /// The files a page loads: its stylesheet and the module graph from its entry script.
    func pageFiles(_ page: String) throws -> Set<String> {
        let html = try text(page)
        var files: Set<String> = [page]
        var pending = try matches(#"(?:src|href)="/(app/[^"]+)""#, in: html)
        while let path = pending.popLast() {
            guard files.insert(path).inserted else { continue }
            guard path.hasSuffix(".js") else { continue }
            for imported in try matches(#"from "\./([^"]+)""#, in: try text(path)) {
                pending.append("app/" + imported)
            }
        }
        return files
    }

    @Test("index.html and join.html load only files the site has: their module graphs are complete")
    func moduleGraphs() throws {
        for page in ["index.html", "join.html"] {
            let files = try pageFiles(page)
            for file in files { #expect(site.files[file] != nil, "\(page) needs \(file)") }
            #expect(files.contains("app/style.css") && files.contains("app/strings.js"))
        }
    }

    @Test("the party page and its modules are under 100 KB uncompressed")
    func pageSize() throws {
        let bytes = try pageFiles("index.html").reduce(0) { $0 + (site.files[$1]?.body.readableBytes ?? 0) }
        #expect(bytes < 100_000, "\(bytes) bytes")
    }

    @Test("every text key the pages use is in strings.js, the one place to translate")
    func stringsComplete() throws {
        let strings = try text("app/strings.js")
        let defined = Set(try matches(#"(?m)^\s+"?([A-Za-z0-9:-]+)"?:"#, in: strings))
        var used: Set<String> = []
        for path in site.files.keys {
            let source = try text(path)
            if path.hasSuffix(".html") {
                used.formUnion(try matches(#"data-(?:text|label|placeholder)="([^"]+)""#, in: source))
            }
            if path.hasSuffix(".js") {
                used.formUnion(try matches(#"\bt\("([A-Za-z0-9:-]+)""#, in: source))
                used.formUnion(try matches(#"notify\("([A-Za-z0-9:-]+)""#, in: source))
                used.formUnion(try matches(#"setStatus\("([A-Za-z0-9:-]+)""#, in: source))
                used.formUnion(try matches(#"fail\("([A-Za-z0-9:-]+)""#, in: source))
                // Keys picked through a map or a condition: `{ denied: "errorCameraDenied" }`, `x ? "a" : "b"`.
                used.formUnion(
                    try matches(
                        #"[:?]\s*"((?:error|session|party|presence|outcome|vote|stop|level|register|key)[A-Z]\w*)""#,
                        in: source))
            }
        }
        #expect(used.count > 50)
        #expect(used.subtracting(defined).isEmpty, "not in strings.js: \(used.subtracting(defined).sorted())")
    }

    @Test("no file refers to another site, and no script is inline")
    func selfContained() throws {
        for (path, _) in site.files {
            let source = try text(path)
            #expect(
                !source.contains("http://") && !source.contains("https://"),
                "\(path) names another site")
            if path.hasSuffix(".html") {
                let scripts = try matches(#"<script([^>]*)>"#, in: source)
                #expect(scripts.allSatisfy { $0.contains("src=") }, "\(path) has an inline script")
                #expect(
                    !source.contains(" style=") && !source.contains(" onclick="), "\(path) has inline style or handlers"
                )
            }
        }
    }

    @Test("the camera is asked for as the rear one, exactly, and never for audio")
    func rearCameraOnly() throws {
        let camera = try text("app/camera.js")
        #expect(camera.contains(#"facingMode: { exact: "environment" }"#))
        #expect(camera.contains("audio: false"))
        for (path, _) in site.files where path.hasSuffix(".js") {
            #expect(!(try text(path)).contains(#""user""#), "\(path) names the front camera")
        }
    }
}
