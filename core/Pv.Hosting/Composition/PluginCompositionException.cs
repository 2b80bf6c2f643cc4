// The one failure composing a machine can end in: the message names the plugin and the backend.
namespace Pv.Hosting.Composition;

/// <summary>A backend's plugin could not be composed into a machine; the message names both.</summary>
public sealed class PluginCompositionException : Exception
{
    /// <summary>Creates the exception for <paramref name="backend"/> of <paramref name="plugin"/>.</summary>
    public PluginCompositionException(string plugin, string backend, string reason, Exception? inner = null)
        : base($"plugin '{plugin}', backend '{backend}': {reason}", inner)
    {
        Plugin = plugin;
        Backend = backend;
        Reason = reason;
    }

    /// <summary>The plugin's name in plugins.json.</summary>
    public string Plugin { get; }

    /// <summary>The backend's name in plugins.json.</summary>
    public string Backend { get; }

    /// <summary>What went wrong, without the names.</summary>
    public string Reason { get; }
}
