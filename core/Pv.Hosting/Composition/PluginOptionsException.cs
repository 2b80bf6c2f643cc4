// A backend's option value in plugins.json that the plugin's own validation refused (a boolean that is not
// true/false, an era that is no kernel version, a combination the plugin does not model). The plugin's code ran
// correctly and said no: the input is at fault, so it is bad input (exit 2), located at the option's place in
// plugins.json, never a plugin fault.
using Pv.Engine;
using Pv.Hosting.Config;

namespace Pv.Hosting.Composition;

/// <summary>An option value of a backend was refused when the backend was composed; located at the value.</summary>
public sealed class PluginOptionsException : PvInputException
{
    /// <summary>The refusal of <paramref name="plugin"/>'s <paramref name="backend"/>, for the value at <paramref name="location"/>.</summary>
    public PluginOptionsException(string plugin, string backend, string reason, PvConfigLocation location, Exception? inner = null)
        : base($"{location}: plugin '{plugin}', backend '{backend}': {reason}", inner)
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

    /// <summary>What was refused and why, without the names.</summary>
    public string Reason { get; }

    /// <summary>The value in plugins.json (an option, or the backend's entry when the plugin's message names no option).</summary>
    public PvConfigLocation Location { get; }
}
