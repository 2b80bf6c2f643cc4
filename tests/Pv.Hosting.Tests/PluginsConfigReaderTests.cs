// plugins.json shape checks: every bad input is one diagnostic naming the file, the JSON path and (when the
// value exists) its line and column, and saying what was expected.
using Pv.Hosting.Config;

namespace Pv.Hosting.Tests;

public sealed class PluginsConfigReaderTests
{
    private static (PluginsConfig? Config, List<PvDiagnostic> Diagnostics, string Path) Read(string json)
    {
        string path = Fixtures.WriteFile("plugins.json", json);
        var diagnostics = new List<PvDiagnostic>();
        return (PluginsConfigReader.Read(path, diagnostics), diagnostics, path);
    }

    private static PvDiagnostic Single(List<PvDiagnostic> diagnostics) => Assert.Single(diagnostics);

    [Fact]
    public void Well_formed_file_is_read_with_paths_resolved_against_its_folder()
    {
        var (config, diagnostics, path) = Read("""
            {
              // comments are allowed
              "plugins": [ { "name": "native", "path": "plugins/native/Native.dll", "sha256": "AB00000000000000000000000000000000000000000000000000000000000001", "options": { "era": "6.6", "ceiling": 33, "strict": true } } ],
              "backends": [ { "name": "x86", "plugin": "native", "archProfile": "x86", "description": "bare metal", "options": { "era": "6.15" }, "cost": { "ipiInitiator": 900 } } ]
            }
            """);
        Assert.Empty(diagnostics);
        var plugin = Assert.Single(config!.Plugins);
        Assert.Equal(Path.Combine(Path.GetDirectoryName(path)!, "plugins", "native", "Native.dll"), plugin.FullPath);
        Assert.Equal("ab00000000000000000000000000000000000000000000000000000000000001", plugin.Sha256);
        Assert.Equal(["era=6.6", "ceiling=33", "strict=true"], plugin.Options.Select(o => $"{o.Key}={o.Value}"));
        var backend = Assert.Single(config.Backends);
        Assert.Equal(("x86", "native", "x86", "bare metal"), (backend.Name, backend.Plugin, backend.ArchProfile, backend.Description));
        Assert.Equal(new CostOverride("ipiInitiator", 900, backend.Cost[0].Location), Assert.Single(backend.Cost));
        Assert.Equal(("$.backends[0].cost.ipiInitiator", 4), (backend.Cost[0].Location.JsonPath, backend.Cost[0].Location.Line));
    }

    [Fact]
    public void Missing_file_is_reported_with_its_path()
    {
        var diagnostics = new List<PvDiagnostic>();
        string path = Path.Combine(Path.GetTempPath(), "pv-tests", "does-not-exist", "plugins.json");
        Assert.Null(PluginsConfigReader.Read(path, diagnostics));
        var d = Single(diagnostics);
        Assert.Equal(path, d.Location!.File);
        Assert.Contains("file not found", d.Message);
    }

    [Fact]
    public void Invalid_json_is_reported_with_line_and_column()
    {
        var (config, diagnostics, path) = Read("{\n  \"plugins\": [],\n  \"backends\": [ , ]\n}");
        Assert.Null(config);
        var d = Single(diagnostics);
        Assert.Equal((path, 3, 17), (d.Location!.File, d.Location.Line, d.Location.Column));
        Assert.StartsWith("not valid JSON", d.Message);
    }

    [Fact]
    public void Empty_file_is_reported()
    {
        var (config, diagnostics, _) = Read("  ");
        Assert.Null(config);
        Assert.Contains("empty", Single(diagnostics).Message);
    }

    [Fact]
    public void Root_must_be_an_object()
    {
        var (config, diagnostics, _) = Read("[]");
        Assert.Null(config);
        var d = Single(diagnostics);
        Assert.Equal("$", d.Location!.JsonPath);
        Assert.Contains("expected an object with \"plugins\" and \"backends\" arrays, found an array", d.Message);
    }

    [Fact]
    public void Both_arrays_are_required()
    {
        var (config, diagnostics, _) = Read("""{ "plugins": [] }""");
        Assert.Null(config);
        Assert.Contains("missing key 'backends' (an array)", Single(diagnostics).Message);
    }

    [Fact]
    public void Wrong_value_type_names_the_json_path_line_and_column()
    {
        var (config, diagnostics, _) = Read("""
            {
              "plugins": [],
              "backends": [
                { "name": "a", "plugin": "p", "archProfile": "x86" },
                { "name": "b", "plugin": "p", "archProfile": "x86" },
                { "name": "c", "plugin": 3, "archProfile": "x86" }
              ]
            }
            """);
        var d = Single(diagnostics);
        Assert.Equal(("$.backends[2].plugin", 6, 30), (d.Location!.JsonPath, d.Location.Line, d.Location.Column));
        Assert.Equal("expected a non-empty string, found a number", d.Message);
        Assert.Equal(["a", "b"], config!.Backends.Select(b => b.Name));
    }

    [Theory]
    [InlineData("""{ "plugins": [], "backends": [], "plugin": [] }""", "$.plugin", "expected one of: plugins, backends")]
    [InlineData("""{ "plugins": [ { "name": "p", "path": "p.dll", "sha": "00" } ], "backends": [] }""", "$.plugins[0].sha", "expected one of: name, path, sha256, options")]
    [InlineData("""{ "plugins": [], "backends": [ { "name": "b", "plugin": "p", "archProfile": "x86", "costs": {} } ] }""", "$.backends[0].costs", "expected one of: name, plugin, archProfile, description, options, cost")]
    public void Unknown_keys_are_errors(string json, string jsonPath, string expected)
    {
        var (_, diagnostics, _) = Read(json);
        var d = Single(diagnostics);
        Assert.Equal(jsonPath, d.Location!.JsonPath);
        Assert.Contains("unknown key", d.Message);
        Assert.Contains(expected, d.Message);
    }

    [Fact]
    public void Missing_required_key_names_the_entry()
    {
        var (config, diagnostics, _) = Read("""{ "plugins": [ { "name": "p" } ], "backends": [] }""");
        var d = Single(diagnostics);
        Assert.Equal("$.plugins[0]", d.Location!.JsonPath);
        Assert.Equal("missing key 'path' (a non-empty string)", d.Message);
        Assert.Empty(config!.Plugins);
    }

    [Fact]
    public void Entry_that_is_not_an_object_is_reported()
    {
        var (_, diagnostics, _) = Read("""{ "plugins": [ "native.dll" ], "backends": [] }""");
        var d = Single(diagnostics);
        Assert.Equal("$.plugins[0]", d.Location!.JsonPath);
        Assert.Contains("found a string", d.Message);
    }

    [Fact]
    public void Duplicate_plugin_names_point_at_the_first()
    {
        var (config, diagnostics, _) = Read("""
            { "plugins": [ { "name": "p", "path": "a.dll" }, { "name": "p", "path": "b.dll" } ], "backends": [] }
            """);
        var d = Single(diagnostics);
        Assert.Equal("$.plugins[1].name", d.Location!.JsonPath);
        Assert.Equal("duplicate plugin name 'p' (first defined at $.plugins[0])", d.Message);
        Assert.Equal("a.dll", Assert.Single(config!.Plugins).Path);
    }

    [Fact]
    public void Duplicate_backend_names_are_errors()
    {
        var (_, diagnostics, _) = Read("""
            { "plugins": [], "backends": [ { "name": "b", "plugin": "p", "archProfile": "x86" }, { "name": "b", "plugin": "p", "archProfile": "arm64" } ] }
            """);
        var d = Single(diagnostics);
        Assert.Equal("$.backends[1].name", d.Location!.JsonPath);
        Assert.Contains("duplicate backend name 'b'", d.Message);
    }

    [Fact]
    public void Repeated_key_in_one_object_is_an_error()
    {
        var (_, diagnostics, _) = Read("""{ "plugins": [ { "name": "p", "path": "a.dll", "path": "b.dll" } ], "backends": [] }""");
        var d = Single(diagnostics);
        Assert.Equal("$.plugins[0].path", d.Location!.JsonPath);
        Assert.Contains("key 'path' appears twice", d.Message);
    }

    [Fact]
    public void Sha256_must_be_64_hex_digits()
    {
        var (_, diagnostics, _) = Read("""{ "plugins": [ { "name": "p", "path": "a.dll", "sha256": "abc" } ], "backends": [] }""");
        var d = Single(diagnostics);
        Assert.Equal("$.plugins[0].sha256", d.Location!.JsonPath);
        Assert.Contains("expected 64 hexadecimal digits", d.Message);
    }

    [Fact]
    public void Option_values_must_be_scalars()
    {
        var (_, diagnostics, _) = Read("""{ "plugins": [ { "name": "p", "path": "a.dll", "options": { "era": { "v": 1 } } } ], "backends": [] }""");
        var d = Single(diagnostics);
        Assert.Equal("$.plugins[0].options.era", d.Location!.JsonPath);
        Assert.Equal("expected a string, number or boolean, found an object", d.Message);
    }

    [Fact]
    public void Kernel_toggle_must_be_known_and_boolean()
    {
        var (_, diagnostics, _) = Read("""{ "plugins": [], "backends": [ { "name": "b", "plugin": "p", "archProfile": "x86", "kernel": { "pfnmapForceFlsh": true, "strictO3": "yes" } } ] }""");
        Assert.Equal(2, diagnostics.Count);
        Assert.Equal("$.backends[0].kernel.pfnmapForceFlsh", diagnostics[0].Location!.JsonPath);
        Assert.Contains("kernel toggle 'pfnmapForceFlsh' is not a generic-kernel toggle; did you mean 'pfnmapForceFlush'?", diagnostics[0].Message);
        Assert.Equal("$.backends[0].kernel.strictO3", diagnostics[1].Location!.JsonPath);
        Assert.Contains("true or false", diagnostics[1].Message);
    }

    [Fact]
    public void Old_style_kernel_toggle_names_the_new_key()
    {
        var (_, diagnostics, _) = Read("""{ "plugins": [], "backends": [ { "name": "b", "plugin": "p", "archProfile": "x86", "kernel": { "pfnmap-force-flush": true } } ] }""");
        var d = Single(diagnostics);
        Assert.Equal(("$.backends[0].kernel.pfnmap-force-flush", 1), (d.Location!.JsonPath, d.Location.Line));
        Assert.Equal("kernel toggle 'pfnmap-force-flush' was renamed 'pfnmapForceFlush'", d.Message);
    }

    [Fact]
    public void Cost_keys_are_kept_with_their_location_for_the_catalog_to_check()
    {
        // The reader cannot know a backend's declared costs: keys are checked by PluginCatalog once the plugin is loaded.
        var (config, diagnostics, _) = Read("""{ "plugins": [], "backends": [ { "name": "b", "plugin": "p", "archProfile": "x86", "cost": { "cmdqSync": 5 } } ] }""");
        Assert.Empty(diagnostics);
        Assert.Equal(("cmdqSync", 5L, "$.backends[0].cost.cmdqSync"), (config!.Backends[0].Cost[0].Key, config.Backends[0].Cost[0].Value, config.Backends[0].Cost[0].Location.JsonPath));
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("\"100\"")]
    [InlineData("1e3")]
    public void Cost_value_must_be_a_non_negative_integer(string value)
    {
        var (_, diagnostics, _) = Read($$"""{ "plugins": [], "backends": [ { "name": "b", "plugin": "p", "archProfile": "x86", "cost": { "hypercall": {{value}} } } ] }""");
        var d = Single(diagnostics);
        Assert.Equal("$.backends[0].cost.hypercall", d.Location!.JsonPath);
        Assert.Contains("expected a non-negative integer", d.Message);
    }

    [Fact]
    public void Every_problem_is_collected_not_only_the_first()
    {
        var (config, diagnostics, _) = Read("""
            { "plugins": [ { "name": 1, "path": "a.dll" }, { "name": "ok", "path": "ok.dll" } ],
              "backends": [ { "name": "b", "plugin": "ok", "archProfile": "x86", "extra": 1, "cost": { "ipiInitiator": -1 } } ] }
            """);
        Assert.Equal(["$.plugins[0].name", "$.backends[0].extra", "$.backends[0].cost.ipiInitiator"], diagnostics.Select(d => d.Location!.JsonPath));
        Assert.Equal("ok", Assert.Single(config!.Plugins).Name);
    }

    [Fact]
    public void Odd_keys_are_quoted_in_json_paths()
    {
        var (_, diagnostics, _) = Read("""{ "plugins": [], "backends": [], "my key": 1 }""");
        Assert.Equal("$['my key']", Single(diagnostics).Location!.JsonPath);
    }
}
