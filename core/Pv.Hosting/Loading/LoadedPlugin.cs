// A plugin that loaded: its IPvPlugin instance, its assembly and what it declared, until Unload. Unload
// drops every reference this object holds into the plugin's context, so once the caller drops theirs too
// (service providers built from it included) the GC frees the context.
using System.Reflection;
using Pv.Abstractions.Plugins;
using McPluginLoader = McMaster.NETCore.Plugins.PluginLoader;

namespace Pv.Hosting.Loading;

/// <summary>A loaded plugin. Owns its load context; <see cref="Unload"/> (or Dispose) releases it.</summary>
public sealed class LoadedPlugin : IDisposable
{
    private McPluginLoader? _loader;
    private Assembly? _assembly;
    private IPvPlugin? _instance;

    internal LoadedPlugin(string name, string assemblyPath, Version contractVersion, McPluginLoader loader, Assembly assembly, IPvPlugin instance)
    {
        Name = name;
        AssemblyPath = assemblyPath;
        ContractVersion = contractVersion;
        _loader = loader;
        _assembly = assembly;
        _instance = instance;
        try
        {
            PluginName = instance.Name;
            Version = instance.Version;
            // Copied into host-owned arrays so that nothing here points into the plugin's context after Unload.
            Backends = [.. instance.Backends.Select(b => b with { Options = [.. b.Options] })];
        }
        catch (Exception e)
        {
            throw new PluginLoadException(name, $"reading Name, Version or Backends of {instance.GetType().FullName} threw {e.GetType().Name}: {e.Message}", e);
        }
        if (Backends.Count == 0) throw new PluginLoadException(name, $"{instance.GetType().FullName} offers no backends");
        if (Backends.GroupBy(b => b.ArchProfile, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new PluginLoadException(name, $"{instance.GetType().FullName} offers arch profile '{twice.Key}' twice");
    }

    /// <summary>The plugin's name in plugins.json.</summary>
    public string Name { get; }

    /// <summary>The name the plugin gives itself (<see cref="IPvPlugin.Name"/>).</summary>
    public string PluginName { get; }

    /// <summary>The plugin's own version.</summary>
    public Version Version { get; }

    /// <summary>The Pv.Abstractions version the plugin was compiled against.</summary>
    public Version ContractVersion { get; }

    /// <summary>Full path of the plugin's main assembly.</summary>
    public string AssemblyPath { get; }

    /// <summary>The backends the plugin offers, one per arch profile.</summary>
    public IReadOnlyList<PvBackendInfo> Backends { get; }

    /// <summary>The plugin's main assembly (what the composition scans).</summary>
    public Assembly Assembly => _assembly ?? throw Unloaded();

    /// <summary>The plugin's entry type instance.</summary>
    public IPvPlugin Instance => _instance ?? throw Unloaded();

    /// <summary>False once <see cref="Unload"/> was called.</summary>
    public bool IsLoaded => _loader is not null;

    /// <summary>Starts unloading the plugin's context; the GC frees it once nothing else refers into it.</summary>
    public void Unload()
    {
        var loader = _loader;
        _loader = null;
        _assembly = null;
        _instance = null;
        loader?.Dispose(); // an unloadable McMaster loader unloads its context

    }

    /// <summary>Same as <see cref="Unload"/>.</summary>
    public void Dispose() => Unload();

    private InvalidOperationException Unloaded() => new($"plugin '{Name}' was unloaded");
}
