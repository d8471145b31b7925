import Foundation
import NIOCore

/// The web page's files (`Web/` in the module's resources), loaded once at start.
///
/// `/` serves `index.html`; `/assets/NAME` serves the other `.js` and `.css` files by name.
struct WebAssets: Sendable {
    /// One file and its content type.
    struct Asset: Sendable {
        var body: ByteBuffer
        var contentType: String
    }

    /// `index.html`.
    let page: ByteBuffer
    private let assets: [String: Asset]

    init(page: ByteBuffer, assets: [String: Asset]) {
        self.page = page
        self.assets = assets
    }

    /// The asset called `name`, when `name` is a plain file name of a shipped `.js` or `.css` file.
    func asset(named name: String) -> Asset? {
        guard Self.isAssetName(name) else { return nil }
        return assets[name]
    }

    /// Letters, digits, `.`, `_`, `-`, not starting with `.`, ending `.js` or `.css`.
    static func isAssetName(_ name: String) -> Bool {
        guard (4...100).contains(name.utf8.count), name.first != ".",
            name.hasSuffix(".js") || name.hasSuffix(".css")
        else { return false }
        return name.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "._-".unicodeScalars.contains(scalar))
        }
    }

    /// Reads every file of `Web/` from the module's bundle.
    static func load() -> WebAssets {
        let missing = ByteBuffer(string: "<!doctype html><title>Parley</title><p>The web page is missing from this build.</p>")
        guard let folder = Bundle.module.url(forResource: "Web", withExtension: nil) else {
            return WebAssets(page: missing, assets: [:])
        }
        var page = missing
        var assets: [String: Asset] = [:]
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        for name in names {
            guard let data = FileManager.default.contents(atPath: folder.appendingPathComponent(name).path) else { continue }
            if name == "index.html" {
                page = ByteBuffer(bytes: data)
            } else if isAssetName(name) {
                let type = name.hasSuffix(".js") ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8"
                assets[name] = Asset(body: ByteBuffer(bytes: data), contentType: type)
            }
        }
        return WebAssets(page: page, assets: assets)
    }
}
