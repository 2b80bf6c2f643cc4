// The loader's guarantees, with real fixture plugins: the contract types unify across the boundary, a
// private dependency comes from the plugin's folder, an unloaded context is collected, and the contract
// version rule refuses a plugin before any of its code runs.
using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using Pv.Abstractions;
using Pv.Abstractions.Plugins;
using Pv.Hosting.Loading;

namespace Pv.Hosting.Tests;

public sealed class PluginLoaderTests
{
    private readonly PluginLoader _loader = new();

    [Fact]
    public void Contract_types_unify_across_the_boundary()
    {
        using var plugin = _loader.Load("good", Fixtures.Plugin("Good"));

        var entryType = plugin.Instance.GetType();
        Assert.Contains(typeof(IPvPlugin), entryType.GetInterfaces());
        Assert.Same(typeof(IPvPlugin).Assembly, entryType.GetInterfaces().Single(i => i.Name == nameof(IPvPlugin)).Assembly);
        var context = AssemblyLoadContext.GetLoadContext(plugin.Assembly)!;
        Assert.NotSame(AssemblyLoadContext.Default, context);
        Assert.DoesNotContain(context.Assemblies, a => a.GetName().Name == PvContract.AssemblyName);
        Assert.Single(AppDomain.CurrentDomain.GetAssemblies(), a => a.GetName().Name == PvContract.AssemblyName);
        Assert.Equal(("good", new Version(2, 3, 4), PvContract.Version), (plugin.PluginName, plugin.Version, plugin.ContractVersion));
        Assert.Equal(["x86", "arm64"], plugin.Backends.Select(b => b.ArchProfile));
    }

    [Fact]
    public void Contract_surface_includes_the_extensions_abstractions()
    {
        Assert.Contains(PvContract.AssemblyName, _loader.SharedAssemblies);
        Assert.Contains("Microsoft.Extensions.DependencyInjection.Abstractions", _loader.SharedAssemblies);
        Assert.Contains("Microsoft.Extensions.Configuration.Abstractions", _loader.SharedAssemblies);
    }

    [Fact]
    public void The_options_pattern_is_shared_so_the_host_runs_a_plugins_option_validation()
    {
        // The real plugins bind their options with Microsoft.Extensions.Options: its IStartupValidator must be the host's type.
        using var catalog = PluginCatalog.Load(Path.Combine(Fixtures.RepoRoot, "plugins.json"));
        using var machine = catalog.Backend("uml").Host.CreateMachine(new Pv.Engine.MachineOptions());
        Assert.NotNull(Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetService<Microsoft.Extensions.Options.IStartupValidator>(machine.Services));
    }

    [Fact]
    public void Private_dependency_resolves_from_the_plugin_folder_in_the_plugin_context()
    {
        string path = Fixtures.Plugin("PrivateDep");
        using var plugin = _loader.Load("private-dep", path);

        var context = AssemblyLoadContext.GetLoadContext(plugin.Assembly)!;
        var newtonsoft = Assert.Single(context.Assemblies, a => a.GetName().Name == "Newtonsoft.Json");
        Assert.Same(context, AssemblyLoadContext.GetLoadContext(newtonsoft));
        Assert.NotSame(AssemblyLoadContext.Default, AssemblyLoadContext.GetLoadContext(newtonsoft));
        Assert.Equal(Path.Combine(Path.GetDirectoryName(path)!, "Newtonsoft.Json.dll"), newtonsoft.Location);
        Assert.Equal("fixture riscv, described through Newtonsoft.Json", Assert.Single(plugin.Backends).Description);
    }

    [Fact]
    public void Unloaded_context_is_collected()
    {
        var context = LoadAndUnload(_loader);
        for (int i = 0; context.IsAlive && i < 20; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        Assert.False(context.IsAlive, "the plugin's AssemblyLoadContext survived Unload and 20 collections");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference LoadAndUnload(PluginLoader loader)
    {
        var plugin = loader.Load("good", Fixtures.Plugin("Good"));
        var context = new WeakReference(AssemblyLoadContext.GetLoadContext(plugin.Assembly));
        Assert.Equal("good", plugin.Instance.Name);
        plugin.Unload();
        Assert.False(plugin.IsLoaded);
        Assert.Throws<InvalidOperationException>(() => plugin.Instance);
        return context;
    }

    [Fact]
    public void Newer_contract_minor_is_refused_naming_both_versions()
    {
        var e = Assert.Throws<PluginLoadException>(() => _loader.Load("newer", Fixtures.Plugin("NewerContract")));
        Assert.Equal("newer", e.Plugin);
        Assert.Contains($"Pv.Abstractions {Fixtures.NextContractVersion}", e.Message);
        Assert.Contains($"host's {PvContract.Version}", e.Message);
        Assert.DoesNotContain(AppDomain.CurrentDomain.GetAssemblies(), a => a.GetName().Name == "Pv.Fixtures.NewerContract");
    }

    [Theory]
    [InlineData("1.0.0.0", "1.0.0.0", null)]
    [InlineData("1.0.0.0", "1.3.0.0", null)]
    [InlineData("1.4.0.0", "1.3.0.0", "newer than the host's 1.3.0.0")]
    [InlineData("2.0.0.0", "1.3.0.0", "another major version than the host's 1.3.0.0")]
    [InlineData("0.9.0.0", "1.3.0.0", "another major version")]
    public void Contract_compatibility_rule(string referenced, string host, string? refusal)
    {
        string? why = ContractReference.Incompatibility(Version.Parse(referenced), Version.Parse(host));
        if (refusal is null) Assert.Null(why);
        else Assert.Contains(refusal, why);
    }

    [Fact]
    public void File_that_is_not_an_assembly_is_a_clear_error()
    {
        string path = Fixtures.WriteFile("Broken.dll", "this is not a PE file");
        var e = Assert.Throws<PluginLoadException>(() => _loader.Load("broken", path));
        Assert.Contains("is not a .NET assembly", e.Message);
        Assert.StartsWith("plugin 'broken'", e.Message);
    }

    [Fact]
    public void Assembly_without_contract_reference_is_refused()
    {
        string newtonsoft = Path.Combine(Path.GetDirectoryName(Fixtures.Plugin("PrivateDep"))!, "Newtonsoft.Json.dll");
        var e = Assert.Throws<PluginLoadException>(() => _loader.Load("json", newtonsoft));
        Assert.Contains("does not reference Pv.Abstractions", e.Message);
    }

    [Theory]
    [InlineData("NoPlugin", "has no public non-abstract class implementing IPvPlugin")]
    [InlineData("TwoPlugins", "has 2 classes implementing IPvPlugin (Pv.Fixtures.TwoPlugins.FirstPlugin, Pv.Fixtures.TwoPlugins.SecondPlugin)")]
    [InlineData("CtorThrows", "constructor of Pv.Fixtures.CtorThrows.CtorThrowsPlugin threw InvalidOperationException: ctor-throws fixture cannot start")]
    public void Entry_type_problems_name_the_plugin(string fixture, string reason)
    {
        var e = Assert.Throws<PluginLoadException>(() => _loader.Load(fixture.ToLowerInvariant(), Fixtures.Plugin(fixture)));
        Assert.Equal(fixture.ToLowerInvariant(), e.Plugin);
        Assert.Contains(reason, e.Reason);
    }

    [Fact]
    public void Missing_file_is_refused()
    {
        var e = Assert.Throws<PluginLoadException>(() => _loader.Load("ghost", "/nonexistent/Ghost.dll"));
        Assert.Contains("assembly not found: /nonexistent/Ghost.dll", e.Message);
    }

    [Fact]
    public void Sha256_compares_case_insensitively()
    {
        string path = Fixtures.Plugin("Good");
        string hash = PluginHash.Compute(path);
        Assert.Equal(64, hash.Length);
        Assert.Equal(PluginHashStatus.PinnedOk, PluginHash.Compare(hash, hash.ToUpperInvariant()));
        Assert.Equal(PluginHashStatus.Unpinned, PluginHash.Compare(hash, null));
        Assert.Equal(PluginHashStatus.Mismatch, PluginHash.Compare(hash, new string('0', 64)));
    }
}
