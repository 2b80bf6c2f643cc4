// The one failure composing a machine can end in: the message names the plugin and the backend, and, when the
// fault is one value of plugins.json (an option the plugin's validation refused), where that value is.
namespace Pv.Hosting.Composition;

/// <summary>A backend's plugin could not be composed into a machine; the message names both.</summary>
public sealed class PluginCompositionException : Exception
{
    /// <summary>Creates the exception for <paramref name="backend"/> of <paramref name="plugin"/>.</summary>
    /// <param name="plugin">The plugin's name.</param>
    /// <param name="backend">The backend's name.</param>
    /// <param name="reason">What went wrong, without the names.</param>
    /// <param name="inner">The exception that caused it.</param>
    /// <param name="location">The value in plugins.json at fault, when the fault is one value.</param>
    public PluginCompositionException(string plugin, string backend, string reason, Exception? inner = null, PvConfigLocation? location = null)
        : base($"{(location is null ? "" : $"{location}: ")}plugin '{plugin}', backend '{backend}': {reason}", inner)
    {
        Plugin = plugin;
        Backend = backend;
        Reason = reason;
        Location = location;
    }

    /// <summary>The plugin's name in plugins.json.</summary>
    public string Plugin { get; }

    /// <summary>The backend's name in plugins.json.</summary>
    public string Backend { get; }

    /// <summary>What went wrong, without the names.</summary>
    public string Reason { get; }

    /// <summary>The value in plugins.json at fault (an option), or null when the fault is the backend as a whole.</summary>
    public PvConfigLocation? Location { get; }
}
