// Everything plugins.json describes, loaded and cross-checked: one status per plugin entry (a broken
// plugin is reported and the others still load) and one ResolvedBackend per usable backend entry. The
// checks that need a loaded plugin happen here: the backend's plugin exists and loaded, its arch profile
// is one the plugin offers, its option keys are declared (an old spelling is named with the new one), no
// option value is one its option renamed, and its cost keys are the engine's or ones the backend declares.
// What the values mean is the plugin's to check, when its backend is composed (PluginOptionsValidation).
// Each backend composes its BackendHost once, on first use; disposing the catalog disposes those hosts,
// then unloads every plugin.
using Pv.Abstractions.Plugins;
using Pv.Engine;
using Pv.Hosting.Composition;
using Pv.Hosting.Config;
using Pv.Hosting.Loading;

namespace Pv.Hosting;

/// <summary>The load status of one plugin entry.</summary>
/// <param name="Entry">The entry in plugins.json.</param>
/// <param name="Hash">How the assembly's SHA-256 compares with the pin.</param>
/// <param name="Sha256">The assembly's SHA-256 (lower-case hex), or null if the file could not be read.</param>
/// <param name="Plugin">The loaded plugin, or null when loading failed.</param>
/// <param name="Error">Why loading failed, or null.</param>
public sealed record PluginStatus(PluginEntry Entry, PluginHashStatus Hash, string? Sha256, LoadedPlugin? Plugin, string? Error)
{
    /// <summary>The plugin's name in plugins.json.</summary>
    public string Name => Entry.Name;

    /// <summary>True when the plugin loaded.</summary>
    public bool IsLoaded => Plugin is not null;
}

/// <summary>A backend entry whose plugin loaded and which passed every check: what a machine is built from.</summary>
public sealed class ResolvedBackend
{
    private readonly Lazy<BackendHost> _host;

    /// <param name="entry">The entry in plugins.json.</param>
    /// <param name="plugin">The plugin providing it.</param>
    /// <param name="info">The plugin's description of this arch profile.</param>
    /// <param name="options">The plugin's options, overridden by the backend's, plus <c>archProfile</c>.</param>
    /// <param name="costs">The engine's and the backend's declared costs, with the backend's overrides applied.</param>
    public ResolvedBackend(BackendEntry entry, LoadedPlugin plugin, PvBackendInfo info, IReadOnlyDictionary<string, string> options, BackendCosts costs)
    {
        Entry = entry;
        Plugin = plugin;
        Info = info;
        Options = options;
        Costs = costs;
        // Composed on first use and kept: Register runs once per backend, however many machines a run builds.
        // A composition failure is cached too, so every caller gets the same diagnostic.
        _host = new Lazy<BackendHost>(() => BackendHost.Build(this), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The entry in plugins.json.</summary>
    public BackendEntry Entry { get; }

    /// <summary>The plugin providing it.</summary>
    public LoadedPlugin Plugin { get; }

    /// <summary>The plugin's description of this arch profile.</summary>
    public PvBackendInfo Info { get; }

    /// <summary>The plugin's options, overridden by the backend's, plus <c>archProfile</c>.</summary>
    public IReadOnlyDictionary<string, string> Options { get; }

    /// <summary>The engine's and the backend's declared costs, with the backend's overrides applied.</summary>
    public BackendCosts Costs { get; }

    /// <summary>
    /// Where each key of <see cref="Options"/> was set in plugins.json (the backend's entry, else the plugin's); a key
    /// absent here (<c>archProfile</c>) was added by the host.
    /// </summary>
    public IReadOnlyDictionary<string, PvConfigLocation> OptionLocations { get; init; } = new Dictionary<string, PvConfigLocation>();

    /// <summary>The backend's composition root, built on first use (every machine of the backend is a scope of it).</summary>
    /// <exception cref="PluginCompositionException">The plugin could not be composed (on every access, once it failed).</exception>
    public BackendHost Host => _host.Value;

    /// <summary>Disposes the host if it was built (the catalog does so before it unloads the plugin).</summary>
    internal void DisposeHost()
    {
        if (_host.IsValueCreated) _host.Value.Dispose();
    }

    /// <summary>
    /// The options of a machine running this backend: <paramref name="options"/> with its <c>kernel</c> era toggles applied
    /// (the backend's toggles win: they are what its name promises) and <paramref name="costs"/>, or the backend's costs.
    /// </summary>
    public MachineOptions MachineOptionsFor(MachineOptions options, BackendCosts? costs = null)
    {
        foreach (var toggle in Entry.Kernel) options = KernelToggles.ByKey[toggle.Key].Apply(options, toggle.Value);
        var c = costs ?? Costs;
        return options with { Cost = c.Engine, BackendCosts = c.Declared };
    }

    /// <summary>The key under which <see cref="Options"/> holds the arch profile.</summary>
    public const string ArchProfileKey = "archProfile";

    /// <summary>The backend's name.</summary>
    public string Name => Entry.Name;

    /// <summary>The backend's arch profile.</summary>
    public string ArchProfile => Entry.ArchProfile;

    /// <summary>The backend's description: its own, else the plugin's.</summary>
    public string Description => Entry.Description ?? Info.Description;
}

/// <summary>plugins.json, read, loaded and checked.</summary>
public sealed class PluginCatalog : IDisposable
{
    private PluginCatalog(string configPath, IReadOnlyList<PluginStatus> plugins, IReadOnlyList<ResolvedBackend> backends, IReadOnlyList<PvDiagnostic> diagnostics)
    {
        ConfigPath = configPath;
        Plugins = plugins;
        Backends = backends;
        Diagnostics = diagnostics;
    }

    /// <summary>Full path of the plugins.json file.</summary>
    public string ConfigPath { get; }

    /// <summary>One status per well-formed plugin entry, in file order.</summary>
    public IReadOnlyList<PluginStatus> Plugins { get; }

    /// <summary>The usable backends, in file order.</summary>
    public IReadOnlyList<ResolvedBackend> Backends { get; }

    /// <summary>Every problem found; empty when the file and every plugin are fine.</summary>
    public IReadOnlyList<PvDiagnostic> Diagnostics { get; }

    /// <summary>The backend called <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No usable backend has that name; the message lists those that do.</exception>
    public ResolvedBackend Backend(string name) =>
        Backends.FirstOrDefault(b => b.Name == name) ?? throw new KeyNotFoundException(NoBackendNamed(name));

    /// <summary>What to tell someone who named <paramref name="name"/>: this file has no usable backend so called, and the ones it has.</summary>
    public string NoBackendNamed(string name) =>
        $"{ConfigPath} has no usable backend '{name}'; usable: {(Backends.Count == 0 ? "none" : string.Join(", ", Backends.Select(b => b.Name)))}";

    /// <summary>Reads <paramref name="configPath"/>, loads every plugin it names and resolves its backends.</summary>
    /// <param name="configPath">The plugins.json file.</param>
    /// <param name="loader">The loader to use; a new one by default.</param>
    public static PluginCatalog Load(string configPath, PluginLoader? loader = null)
    {
        var diagnostics = new List<PvDiagnostic>();
        var config = PluginsConfigReader.Read(configPath, diagnostics);
        if (config is null) return new PluginCatalog(Path.GetFullPath(configPath), [], [], diagnostics);

        loader ??= new PluginLoader();
        var plugins = config.Plugins.Select(entry => LoadPlugin(entry, loader, diagnostics)).ToList();
        var backends = new List<ResolvedBackend>();
        foreach (var entry in config.Backends)
            if (Resolve(entry, plugins, config.RefusedPlugins, diagnostics) is { } backend) backends.Add(backend);
        return new PluginCatalog(config.FilePath, plugins, backends, diagnostics);
    }

    /// <summary>Disposes every backend host built, then unloads every loaded plugin.</summary>
    public void Dispose()
    {
        foreach (var backend in Backends) backend.DisposeHost();
        foreach (var status in Plugins) status.Plugin?.Unload();
    }

    private static PluginStatus LoadPlugin(PluginEntry entry, PluginLoader loader, List<PvDiagnostic> diagnostics)
    {
        PluginStatus Failed(PluginHashStatus hash, string? sha, string error, PvConfigLocation location)
        {
            diagnostics.Add(new PvDiagnostic(error, location, entry.Name));
            return new PluginStatus(entry, hash, sha, null, error);
        }

        if (Directory.Exists(entry.FullPath))
            return Failed(PluginHashStatus.NotComputed, null, $"path is a directory, expected the plugin's assembly file: {entry.FullPath}", entry.PathLocation);
        if (!File.Exists(entry.FullPath))
            return Failed(PluginHashStatus.NotComputed, null, $"assembly not found: {entry.FullPath}", entry.PathLocation);

        string sha256;
        try
        {
            sha256 = PluginHash.Compute(entry.FullPath);
        }
        catch (InputFileException e)
        {
            return Failed(PluginHashStatus.NotComputed, null, $"cannot read {entry.FullPath}: {e.Reason}", entry.PathLocation);
        }
        var hash = PluginHash.Compare(sha256, entry.Sha256);
        if (hash == PluginHashStatus.Mismatch)
            return Failed(hash, sha256, $"SHA-256 mismatch: plugins.json pins {entry.Sha256}, the file has {sha256}; refusing to load", entry.Location with { JsonPath = entry.Location.JsonPath + ".sha256" });

        try
        {
            var plugin = loader.Load(entry.Name, entry.FullPath);
            CheckPluginOptions(entry, plugin, diagnostics);
            return new PluginStatus(entry, hash, sha256, plugin, null);
        }
        catch (PluginLoadException e)
        {
            return Failed(hash, sha256, e.Reason, entry.Location);
        }
    }

    /// <summary>
    /// A plugin-wide option must be declared by at least one of the plugin's backends; each backend receives the
    /// plugin-wide options it declares.
    /// </summary>
    private static void CheckPluginOptions(PluginEntry entry, LoadedPlugin plugin, List<PvDiagnostic> diagnostics)
    {
        var infos = plugin.Backends.SelectMany(b => b.Options).ToList();
        var declared = infos.Select(o => o.Key).Distinct(StringComparer.Ordinal).ToList();
        foreach (var option in entry.Options)
        {
            if (!declared.Contains(option.Key, StringComparer.Ordinal))
                diagnostics.Add(new PvDiagnostic(ConfigKeys.Unknown($"option '{option.Key}'", option.Key, "is not declared by any backend of the plugin", declared), option.Location, entry.Name));
            else if (infos.Where(o => o.Key == option.Key).Select(o => RenamedValue(option, o)).FirstOrDefault(m => m is not null) is { } renamed)
                diagnostics.Add(new PvDiagnostic(renamed, option.Location, entry.Name));
        }
    }

    /// <summary>"option 'era': 'pre-6.6' was renamed '6.5'" when the value is one the option renamed, else null.</summary>
    private static string? RenamedValue(ConfigOption option, PvOptionInfo info) =>
        info.RenamedValues.TryGetValue(option.Value, out var now) ? $"option '{option.Key}': '{option.Value}' was renamed '{now}'" : null;

    private static ResolvedBackend? Resolve(BackendEntry entry, List<PluginStatus> plugins, IReadOnlySet<string> refused, List<PvDiagnostic> diagnostics)
    {
        var status = plugins.FirstOrDefault(p => p.Name == entry.Plugin);
        if (status is null && refused.Contains(entry.Plugin))
        {
            diagnostics.Add(new PvDiagnostic($"unavailable: the entry of plugin '{entry.Plugin}' has errors", entry.PluginLocation, entry.Plugin, entry.Name));
            return null;
        }
        if (status is null)
        {
            diagnostics.Add(new PvDiagnostic($"unknown plugin '{entry.Plugin}'; plugins in this file: {ConfigKeys.List(plugins.Select(p => p.Name))}", entry.PluginLocation, Backend: entry.Name));
            return null;
        }
        if (status.Plugin is not { } plugin)
        {
            diagnostics.Add(new PvDiagnostic($"unavailable: plugin '{entry.Plugin}' did not load", entry.PluginLocation, entry.Plugin, entry.Name));
            return null;
        }
        var info = plugin.Backends.FirstOrDefault(b => b.ArchProfile == entry.ArchProfile);
        if (info is null)
        {
            diagnostics.Add(new PvDiagnostic($"arch profile '{entry.ArchProfile}' is not offered by the plugin; it offers: {ConfigKeys.List(plugin.Backends.Select(b => b.ArchProfile))}", entry.ArchProfileLocation, entry.Plugin, entry.Name));
            return null;
        }

        int before = diagnostics.Count;
        var declared = info.Options.Select(o => o.Key).ToList();
        foreach (var option in entry.Options)
        {
            if (info.Options.FirstOrDefault(o => o.Key == option.Key) is not { } optionInfo)
                diagnostics.Add(new PvDiagnostic(ConfigKeys.Unknown($"option '{option.Key}'", option.Key, $"is not declared for arch profile '{entry.ArchProfile}'", declared), option.Location, entry.Plugin, entry.Name));
            else if (RenamedValue(option, optionInfo) is { } renamed)
                diagnostics.Add(new PvDiagnostic(renamed, option.Location, entry.Plugin, entry.Name));
        }

        // What the plugin declares is checked before it is used: a key twice or a negative default is the plugin's
        // mistake, reported at its backend like any other, not a crash of the host.
        int declaredProblems = diagnostics.Count;
        foreach (var twice in info.Costs.GroupBy(c => c.Key, StringComparer.Ordinal).Where(g => g.Count() > 1))
            diagnostics.Add(new PvDiagnostic($"the plugin declares cost '{twice.Key}' {twice.Count()} times; each declared cost needs a key of its own", entry.Location, entry.Plugin, entry.Name));
        foreach (var negative in info.Costs.Where(c => c.Default < 0))
            diagnostics.Add(new PvDiagnostic($"the plugin declares cost '{negative.Key}' with default {negative.Default}; a cost is not negative", entry.Location, entry.Plugin, entry.Name));
        if (diagnostics.Count > declaredProblems) return null;
        var costs = BackendCosts.Defaults(entry.Name, info);
        foreach (var collision in info.Costs.Where(c => BackendCosts.EngineKeys.Contains(c.Key, StringComparer.Ordinal)))
            diagnostics.Add(new PvDiagnostic($"the plugin declares cost '{collision.Key}', which is an engine cost key; a declared cost needs a key of its own", entry.Location, entry.Plugin, entry.Name));
        foreach (var cost in entry.Cost)
            if (costs.KeyProblem(cost.Key) is { } problem) diagnostics.Add(new PvDiagnostic(problem, cost.Location, entry.Plugin, entry.Name));
        if (diagnostics.Count > before) return null;

        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        var locations = new Dictionary<string, PvConfigLocation>(StringComparer.Ordinal);
        foreach (var option in status.Entry.Options.Where(o => declared.Contains(o.Key, StringComparer.Ordinal)).Concat(entry.Options))
        {
            options[option.Key] = option.Value;
            locations[option.Key] = option.Location;
        }
        options[ResolvedBackend.ArchProfileKey] = entry.ArchProfile;
        return new ResolvedBackend(entry, plugin, info, options, costs.With(entry.Cost.Select(c => KeyValuePair.Create(c.Key, c.Value))))
        {
            OptionLocations = locations,
        };
    }
}
