// The one failure composing a machine can end in: the message names the plugin and the backend. It is the
// plugin's code that failed (Register threw, a registration it made cannot be satisfied, a constructor threw
// when a machine resolved it), so it is a plugin fault; `pv plugins` lists it as a problem of the backend's entry.
namespace Pv.Hosting.Composition;

/// <summary>A backend's plugin could not be composed into a machine; the message names both.</summary>
public sealed class PluginCompositionException : PluginFaultException
{
    /// <summary>Creates the exception for <paramref name="backend"/> of <paramref name="plugin"/>.</summary>
    public PluginCompositionException(string plugin, string backend, string reason, Exception? inner = null)
        : base(plugin, backend, "composing the backend", reason, inner)
    {
    }
}
