// The one failure a plugin load can end in: the message names the plugin and says what was wrong.
namespace Pv.Hosting.Loading;

/// <summary>A plugin could not be loaded; <see cref="Exception.Message"/> says why and names the plugin.</summary>
public sealed class PluginLoadException : Exception
{
    /// <summary>Creates the exception for <paramref name="plugin"/>.</summary>
    public PluginLoadException(string plugin, string reason, Exception? inner = null)
        : base($"plugin '{plugin}': {reason}", inner)
    {
        Plugin = plugin;
        Reason = reason;
    }

    /// <summary>The plugin's name from plugins.json.</summary>
    public string Plugin { get; }

    /// <summary>What went wrong, without the plugin name.</summary>
    public string Reason { get; }
}
