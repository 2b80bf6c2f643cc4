// The model of plugins.json after syntax and shape checks: plugin entries (which assembly) and backend
// entries (which plugin, arch profile, options and cost overrides). Each value that a later check can
// still reject (a path that does not exist, an unknown plugin, an undeclared option) keeps its location.
namespace Pv.Hosting.Config;

/// <summary>A plugins.json file: the plugin assemblies to load and the backends they provide.</summary>
/// <param name="FilePath">Full path of the file.</param>
/// <param name="Plugins">The well-formed plugin entries, in file order.</param>
/// <param name="Backends">The well-formed backend entries, in file order.</param>
public sealed record PluginsConfig(string FilePath, IReadOnlyList<PluginEntry> Plugins, IReadOnlyList<BackendEntry> Backends)
{
    /// <summary>Names of plugin entries refused for a problem of their own (reported there): a backend naming one is unavailable, not unknown.</summary>
    public IReadOnlySet<string> RefusedPlugins { get; init; } = new HashSet<string>();
}

/// <summary>One entry of <c>plugins</c>.</summary>
/// <param name="Name">The name backends refer to.</param>
/// <param name="Path">The assembly path as written (relative to the plugins.json file, or absolute).</param>
/// <param name="FullPath">The assembly path resolved against the plugins.json file's folder.</param>
/// <param name="Sha256">The pinned SHA-256 of the assembly (64 hex digits, lower case), or null when unpinned.</param>
/// <param name="Options">The plugin-wide options; a backend's options override them key by key.</param>
/// <param name="Location">The entry itself.</param>
/// <param name="PathLocation">The <c>path</c> value.</param>
public sealed record PluginEntry(
    string Name, string Path, string FullPath, string? Sha256, IReadOnlyList<ConfigOption> Options,
    PvConfigLocation Location, PvConfigLocation PathLocation);

/// <summary>One entry of <c>backends</c>.</summary>
/// <param name="Name">The backend's name, as scenarios refer to it.</param>
/// <param name="Plugin">The plugin entry that provides it.</param>
/// <param name="ArchProfile">The arch profile, one of the plugin's <c>PvBackendInfo.ArchProfile</c>.</param>
/// <param name="Description">A description overriding the plugin's, or null.</param>
/// <param name="Options">The backend's options, checked against the plugin's declared option keys.</param>
/// <param name="Cost">Cost overrides by key (an engine cost or one the backend declares; checked once the plugin is loaded).</param>
/// <param name="Location">The entry itself.</param>
/// <param name="PluginLocation">The <c>plugin</c> value.</param>
/// <param name="ArchProfileLocation">The <c>archProfile</c> value.</param>
public sealed record BackendEntry(
    string Name, string Plugin, string ArchProfile, string? Description, IReadOnlyList<ConfigOption> Options,
    IReadOnlyList<CostOverride> Cost, PvConfigLocation Location, PvConfigLocation PluginLocation, PvConfigLocation ArchProfileLocation)
{
    /// <summary>Generic-kernel era toggles the backend sets (its <c>kernel</c> section); empty keeps the engine's defaults.</summary>
    public IReadOnlyList<KernelToggleSetting> Kernel { get; init; } = [];
}

/// <summary>One generic-kernel era toggle of a backend.</summary>
/// <param name="Key">A key of <c>Pv.Engine.KernelToggles.ByKey</c>.</param>
/// <param name="Value">On or off.</param>
/// <param name="Location">The value in the file.</param>
public sealed record KernelToggleSetting(string Key, bool Value, PvConfigLocation Location);

/// <summary>One option: a key and its value as text (numbers as written, booleans as <c>true</c>/<c>false</c>).</summary>
/// <param name="Key">The option key.</param>
/// <param name="Value">The value as text, as <c>IConfiguration</c> holds it.</param>
/// <param name="Location">The value in the file.</param>
public sealed record ConfigOption(string Key, string Value, PvConfigLocation Location);

/// <summary>One cost figure override.</summary>
/// <param name="Key">The cost key as written: an engine key (<c>ipiInitiator</c>) or one the backend declares.</param>
/// <param name="Value">The figure in the cost's unit, a non-negative integer.</param>
/// <param name="Location">The value in the file.</param>
public sealed record CostOverride(string Key, long Value, PvConfigLocation Location);
