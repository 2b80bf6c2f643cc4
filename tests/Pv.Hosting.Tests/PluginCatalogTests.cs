// plugins.json loaded for real: each broken plugin is one diagnostic naming the file, the JSON path and
// the plugin, the other plugins still load, and the backend checks that need a loaded plugin (plugin
// exists and loaded, arch profile offered, option keys declared) report what is known.
using Pv.Abstractions;
using Pv.Hosting.Loading;

namespace Pv.Hosting.Tests;

public sealed class PluginCatalogTests
{
    private static readonly string GoodEntry = Fixtures.PluginEntry("good", "Good");

    private static PluginCatalog Load(string plugins, string backends = "") =>
        PluginCatalog.Load(Fixtures.WriteConfig(plugins, backends));

    [Fact]
    public void A_cost_declared_twice_or_negative_is_a_diagnostic_at_the_backend_not_a_crash()
    {
        using var catalog = Load(Fixtures.PluginEntry("no-ops", "NoOps"), """{ "name": "bad", "plugin": "no-ops", "archProfile": "bad-costs" }""");
        Assert.Empty(catalog.Backends);
        Assert.Equal(
            ["the plugin declares cost 'twice' 2 times; each declared cost needs a key of its own", "the plugin declares cost 'negative' with default -5; a cost is not negative"],
            catalog.Diagnostics.Select(d => d.Message));
    }

    private static void AssertGoodStillLoads(PluginCatalog catalog)
    {
        var good = Assert.Single(catalog.Plugins, p => p.Name == "good");
        Assert.True(good.IsLoaded, good.Error);
    }

    [Fact]
    public void Good_plugin_loads_and_its_backend_resolves()
    {
        using var catalog = Load(GoodEntry, """{ "name": "native-x86", "plugin": "good", "archProfile": "x86", "cost": { "ipiInitiator": 900 } }""");
        Assert.Empty(catalog.Diagnostics);
        var status = Assert.Single(catalog.Plugins);
        Assert.Equal((PluginHashStatus.Unpinned, (string?)null), (status.Hash, status.Error));
        Assert.Equal(PluginHash.Compute(Fixtures.Plugin("Good")), status.Sha256);
        var backend = catalog.Backend("native-x86");
        Assert.Equal(("x86", "fixture x86: IPI shootdown"), (backend.ArchProfile, backend.Description));
        Assert.Equal(900, backend.Costs.Engine.IpiInitiator);
        Assert.Equal(new Abstractions.Host.CostModel().Hypercall, backend.Costs.Engine.Hypercall);
        Assert.Equal(new Dictionary<string, string> { ["archProfile"] = "x86" }, backend.Options);
    }

    [Fact]
    public void A_backend_of_a_refused_plugin_entry_is_unavailable_not_unknown()
    {
        string config = Fixtures.WriteConfig("", "");
        File.WriteAllText(config, """{ "plugins": [ { "name": "good", "path": 5 } ], "backends": [ { "name": "a", "plugin": "good", "archProfile": "x86" } ] }""");
        using var catalog = PluginCatalog.Load(config);
        Assert.Equal(
            [("$.plugins[0].path", "expected a non-empty string, found a number"), ("$.backends[0].plugin", "unavailable: the entry of plugin 'good' has errors")],
            catalog.Diagnostics.Select(d => (d.Location!.JsonPath, d.Message)));
    }

    [Fact]
    public void Endless_files_are_refused_by_name_not_read_to_the_end()
    {
        var diagnostics = new List<PvDiagnostic>();
        Assert.Null(Pv.Hosting.Config.PluginsConfigReader.Read("/dev/zero", diagnostics));
        Assert.Equal("cannot read plugins.json: is larger than 16,777,216 bytes, the most Pv reads from such a file (an endless device such as /dev/zero?)",
            Assert.Single(diagnostics).Message);

        string config = Fixtures.WriteConfig("", "");
        File.WriteAllText(config, """{ "plugins": [ { "name": "zero", "path": "/dev/zero" } ], "backends": [] }""");
        using var catalog = PluginCatalog.Load(config);
        var d = Assert.Single(catalog.Diagnostics);
        Assert.Equal("$.plugins[0].path", d.Location!.JsonPath);
        Assert.StartsWith("cannot read /dev/zero: is larger than 268,435,456 bytes", d.Message);
    }

    [Fact]
    public void Relative_plugin_path_is_resolved_against_the_config_folder()
    {
        string config = Fixtures.WriteConfig("", "");
        string relative = Path.GetRelativePath(Path.GetDirectoryName(config)!, Fixtures.Plugin("Good"));
        File.WriteAllText(config, $$"""{ "plugins": [ { "name": "good", "path": {{Fixtures.Json(relative)}} } ], "backends": [] }""");
        using var catalog = PluginCatalog.Load(config);
        Assert.Empty(catalog.Diagnostics);
        Assert.True(catalog.Plugins[0].IsLoaded);
    }

    [Fact]
    public void Backend_options_override_plugin_options()
    {
        using var catalog = Load(Fixtures.PluginEntry("good", "Good", """, "options": { "archMmu": "registered" }"""),
            """{ "name": "a", "plugin": "good", "archProfile": "x86" }, { "name": "b", "plugin": "good", "archProfile": "arm64", "options": { "archMmu": "scanned" } }""");
        Assert.Empty(catalog.Diagnostics);
        Assert.Equal("registered", catalog.Backend("a").Options["archMmu"]);
        Assert.Equal("scanned", catalog.Backend("b").Options["archMmu"]);
        Assert.Equal("arm64", catalog.Backend("b").Options["archProfile"]);
    }

    [Fact]
    public void Missing_assembly_names_the_path_value_and_the_others_still_load()
    {
        using var catalog = Load("""{ "name": "ghost", "path": "nowhere/Ghost.dll" }, """ + GoodEntry);
        var d = Assert.Single(catalog.Diagnostics);
        Assert.Equal(("$.plugins[0].path", "ghost"), (d.Location!.JsonPath, d.Plugin));
        Assert.Equal(catalog.ConfigPath, d.Location.File);
        Assert.Contains("assembly not found", d.Message);
        Assert.Equal(PluginHashStatus.NotComputed, catalog.Plugins[0].Hash);
        AssertGoodStillLoads(catalog);
    }

    [Fact]
    public void Directory_instead_of_assembly_is_reported()
    {
        using var catalog = Load($$"""{ "name": "dir", "path": {{Fixtures.Json(Path.GetTempPath())}} }""");
        Assert.Contains("path is a directory", Assert.Single(catalog.Diagnostics).Message);
    }

    [Fact]
    public void File_that_is_not_an_assembly_is_reported_and_the_others_still_load()
    {
        string broken = Fixtures.WriteFile("Broken.dll", "MZ but not really");
        using var catalog = Load($$"""{ "name": "broken", "path": {{Fixtures.Json(broken)}} }, """ + GoodEntry);
        var d = Assert.Single(catalog.Diagnostics);
        Assert.Equal(("$.plugins[0]", "broken"), (d.Location!.JsonPath, d.Plugin));
        Assert.Contains("is not a .NET assembly", d.Message);
        AssertGoodStillLoads(catalog);
    }

    [Theory]
    [InlineData("NewerContract", "built against Pv.Abstractions {next}, newer than the host's {host}")]
    [InlineData("CtorThrows", "constructor of Pv.Fixtures.CtorThrows.CtorThrowsPlugin threw InvalidOperationException")]
    [InlineData("NoPlugin", "no public non-abstract class implementing IPvPlugin")]
    [InlineData("TwoPlugins", "has 2 classes implementing IPvPlugin")]
    public void Broken_plugin_is_reported_by_name_and_the_others_still_load(string fixture, string reason)
    {
        using var catalog = Load(Fixtures.PluginEntry("broken", fixture) + ", " + GoodEntry,
            """{ "name": "b", "plugin": "broken", "archProfile": "x86" }, { "name": "g", "plugin": "good", "archProfile": "x86" }""");
        var loadError = catalog.Diagnostics[0];
        Assert.Equal(("broken", "$.plugins[0]"), (loadError.Plugin, loadError.Location!.JsonPath));
        Assert.Contains(reason.Replace("{next}", Fixtures.NextContractVersion.ToString()).Replace("{host}", PvContract.Version.ToString()), loadError.Message);
        Assert.Equal(loadError.Message, catalog.Plugins[0].Error);
        var unavailable = catalog.Diagnostics[1];
        Assert.Equal(("b", "$.backends[0].plugin"), (unavailable.Backend, unavailable.Location!.JsonPath));
        Assert.Contains("plugin 'broken' did not load", unavailable.Message);
        Assert.Equal(2, catalog.Diagnostics.Count);
        AssertGoodStillLoads(catalog);
        Assert.Equal("g", Assert.Single(catalog.Backends).Name);
    }

    [Fact]
    public void Pinned_hash_that_matches_is_pinned_ok()
    {
        string hash = PluginHash.Compute(Fixtures.Plugin("Good"));
        using var catalog = Load(Fixtures.PluginEntry("good", "Good", $$""", "sha256": "{{hash.ToUpperInvariant()}}" """));
        Assert.Empty(catalog.Diagnostics);
        Assert.Equal(PluginHashStatus.PinnedOk, catalog.Plugins[0].Hash);
    }

    [Fact]
    public void Pinned_hash_mismatch_refuses_to_load()
    {
        using var catalog = Load(Fixtures.PluginEntry("pinned", "Good", $$""", "sha256": "{{new string('0', 64)}}" """) + ", " + Fixtures.PluginEntry("good", "Good"));
        var d = Assert.Single(catalog.Diagnostics);
        Assert.Equal(("pinned", "$.plugins[0].sha256"), (d.Plugin, d.Location!.JsonPath));
        Assert.Contains("SHA-256 mismatch", d.Message);
        Assert.Equal(PluginHashStatus.Mismatch, catalog.Plugins[0].Hash);
        Assert.False(catalog.Plugins[0].IsLoaded);
        AssertGoodStillLoads(catalog);
    }

    [Fact]
    public void Backend_naming_an_unknown_plugin_lists_the_plugins()
    {
        using var catalog = Load(GoodEntry, """{ "name": "b", "plugin": "xen", "archProfile": "x86" }""");
        var d = Assert.Single(catalog.Diagnostics);
        Assert.Equal(("b", "$.backends[0].plugin"), (d.Backend, d.Location!.JsonPath));
        Assert.Equal("unknown plugin 'xen'; plugins in this file: good", d.Message);
        Assert.Empty(catalog.Backends);
    }

    [Fact]
    public void Arch_profile_not_offered_lists_what_the_plugin_offers()
    {
        using var catalog = Load(GoodEntry, """{ "name": "b", "plugin": "good", "archProfile": "s390" }""");
        var d = Assert.Single(catalog.Diagnostics);
        Assert.Equal(("good", "b", "$.backends[0].archProfile"), (d.Plugin, d.Backend, d.Location!.JsonPath));
        Assert.Equal("arch profile 's390' is not offered by the plugin; it offers: x86, arm64", d.Message);
    }

    [Fact]
    public void Undeclared_backend_option_lists_the_known_keys()
    {
        using var catalog = Load(GoodEntry, """{ "name": "b", "plugin": "good", "archProfile": "x86", "options": { "archMMU": "scanned" } }""");
        var d = Assert.Single(catalog.Diagnostics);
        Assert.Equal(("$.backends[0].options.archMMU", 3), (d.Location!.JsonPath, d.Location.Line));
        Assert.Equal("option 'archMMU' was renamed 'archMmu'", d.Message);
        Assert.Empty(catalog.Backends);
    }

    [Fact]
    public void Misspelt_option_key_is_located_and_names_the_nearest_key()
    {
        using var catalog = Load(GoodEntry, """{ "name": "b", "plugin": "good", "archProfile": "x86", "options": { "archMnu": "scanned" } }""");
        var d = Assert.Single(catalog.Diagnostics);
        Assert.Equal(("$.backends[0].options.archMnu", 3, "b"), (d.Location!.JsonPath, d.Location.Line, d.Backend));
        Assert.Equal("option 'archMnu' is not declared for arch profile 'x86'; did you mean 'archMmu'? known keys: archMmu", d.Message);
        Assert.Empty(catalog.Backends);
    }

    [Fact]
    public void Unknown_cost_key_is_located_and_lists_the_engine_and_declared_keys()
    {
        using var catalog = Load(GoodEntry, """{ "name": "b", "plugin": "good", "archProfile": "x86", "cost": { "ipiInitator": 1, "cmdqSync": 2 } }""");
        Assert.Equal(2, catalog.Diagnostics.Count);
        var near = catalog.Diagnostics[0];
        Assert.Equal(("$.backends[0].cost.ipiInitator", 3), (near.Location!.JsonPath, near.Location.Line));
        Assert.StartsWith("cost key 'ipiInitator' is neither an engine cost nor one backend 'b' declares; did you mean 'ipiInitiator'? known keys: tlbHit, walkLevel,", near.Message);
        Assert.Equal("$.backends[0].cost.cmdqSync", catalog.Diagnostics[1].Location!.JsonPath);
        Assert.Empty(catalog.Backends);
    }

    [Fact]
    public void Old_style_cost_key_names_the_new_one()
    {
        using var catalog = Load(GoodEntry, """{ "name": "b", "plugin": "good", "archProfile": "x86", "cost": { "IpiInitiator": 1 } }""");
        var d = Assert.Single(catalog.Diagnostics);
        Assert.Equal(("$.backends[0].cost.IpiInitiator", "cost key 'IpiInitiator' was renamed 'ipiInitiator'"), (d.Location!.JsonPath, d.Message));
    }

    [Fact]
    public void Undeclared_plugin_option_is_reported()
    {
        using var catalog = Load(Fixtures.PluginEntry("good", "Good", """, "options": { "era": "6.6" }"""));
        var d = Assert.Single(catalog.Diagnostics);
        Assert.Equal(("good", "$.plugins[0].options.era"), (d.Plugin, d.Location!.JsonPath));
        Assert.Contains("known keys: archMmu", d.Message);
    }

    [Fact]
    public void Unknown_backend_is_a_clear_error()
    {
        using var catalog = Load(GoodEntry, """{ "name": "g", "plugin": "good", "archProfile": "x86" }""");
        var e = Assert.Throws<KeyNotFoundException>(() => catalog.Backend("xen"));
        Assert.Contains("no usable backend 'xen'", e.Message);
        Assert.Contains("usable: g", e.Message);
    }

    [Fact]
    public void Diagnostic_text_names_file_line_path_and_plugin()
    {
        using var catalog = Load(GoodEntry, """{ "name": "b", "plugin": "good", "archProfile": "s390" }""");
        Assert.Equal(
            $"{catalog.ConfigPath}:3:65: $.backends[0].archProfile: plugin 'good': backend 'b': arch profile 's390' is not offered by the plugin; it offers: x86, arm64",
            catalog.Diagnostics[0].ToString());
    }

    [Fact]
    public void Repo_plugins_json_is_valid()
    {
        using var catalog = PluginCatalog.Load(Path.Combine(Fixtures.RepoRoot, "plugins.json"));
        Assert.Empty(catalog.Diagnostics);
    }
}
