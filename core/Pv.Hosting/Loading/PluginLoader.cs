// The plugin loader: the one type that knows how a plugin assembly gets into the process, on
// McMaster.NETCore.Plugins:
//   - one unloadable load context per plugin (McMaster's PluginLoader); disposing it lets the GC free it;
//   - private dependencies resolve from the plugin's own folder through its deps.json, native libraries too;
//   - the contract surface (Pv.Abstractions, everything it references, any Microsoft.Extensions.*.Abstractions
//     the plugin references that the host can load, and Microsoft.Extensions.Options) is shared from the host's
//     default context, so IPvPlugin, IServiceCollection, IConfiguration and the Options pattern's types
//     (IStartupValidator, OptionsValidationException, which the host runs and catches) are the same on both sides.
// What Pv adds to McMaster: before any code of the plugin runs, the assembly must be .NET metadata and must
// reference a compatible Pv.Abstractions; after loading, exactly one public IPvPlugin class with a public
// parameterless constructor; every failure is a PluginLoadException naming the plugin.
using System.Reflection;
using System.Runtime.Loader;
using McPluginLoader = McMaster.NETCore.Plugins.PluginLoader;
using Pv.Abstractions;
using Pv.Abstractions.Plugins;

namespace Pv.Hosting.Loading;

/// <summary>Loads plugin assemblies into their own unloadable contexts, sharing the contract with the host.</summary>
public sealed class PluginLoader
{
    /// <summary>The Options pattern's assembly: the host validates a plugin's options through its types.</summary>
    private const string OptionsAssembly = "Microsoft.Extensions.Options";

    private readonly HashSet<string> _contractSurface;

    /// <summary>Creates a loader that shares the host's Pv.Abstractions and the assemblies it references.</summary>
    public PluginLoader() => _contractSurface = ContractSurface(typeof(IPvPlugin).Assembly);

    /// <summary>The names of the assemblies a plugin always takes from the host.</summary>
    public IReadOnlyCollection<string> SharedAssemblies => _contractSurface;

    /// <summary>
    /// Loads the plugin assembly at <paramref name="assemblyPath"/> and creates its <see cref="IPvPlugin"/>.
    /// </summary>
    /// <param name="name">The plugin's name in plugins.json, used in every message.</param>
    /// <param name="assemblyPath">Full path of the plugin's main assembly.</param>
    /// <exception cref="PluginLoadException">Any reason the plugin cannot be used; nothing stays loaded.</exception>
    public LoadedPlugin Load(string name, string assemblyPath)
    {
        if (!File.Exists(assemblyPath)) throw new PluginLoadException(name, $"assembly not found: {assemblyPath}");
        var contract = CheckContract(name, assemblyPath);

        var shared = SharedWith(assemblyPath);
        var loader = McPluginLoader.CreateFromAssemblyFile(assemblyPath, isUnloadable: true, sharedTypes: [typeof(IPvPlugin)],
            config => { foreach (var n in shared) config.SharedAssemblies.Add(n); });
        try
        {
            var assembly = loader.LoadDefaultAssembly();
            var plugin = CreateEntryType(name, assembly);
            return new LoadedPlugin(name, assemblyPath, contract, loader, assembly, plugin);
        }
        catch (PluginLoadException)
        {
            loader.Dispose();
            throw;
        }
        catch (Exception e) when (e is BadImageFormatException or FileLoadException or FileNotFoundException)
        {
            loader.Dispose();
            throw new PluginLoadException(name, $"cannot load {assemblyPath}: {e.Message}", e);
        }
    }

    /// <summary>
    /// The assemblies the plugin takes from the host: the contract surface, and each Microsoft.Extensions.*.Abstractions
    /// (and Microsoft.Extensions.Options) the plugin references (from its metadata) that the host can load. Anything
    /// else the plugin brings (the configuration binder, say) stays private.
    /// </summary>
    private List<AssemblyName> SharedWith(string assemblyPath)
    {
        var names = _contractSurface.Select(n => new AssemblyName(n)).ToList();
        foreach (var reference in ContractReference.References(assemblyPath))
        {
            bool crossesBoundary = reference.StartsWith("Microsoft.Extensions.", StringComparison.Ordinal)
                && (reference.EndsWith(".Abstractions", StringComparison.Ordinal) || reference == OptionsAssembly);
            if (!crossesBoundary || _contractSurface.Contains(reference)) continue;
            try
            {
                AssemblyLoadContext.Default.LoadFromAssemblyName(new AssemblyName(reference));
                names.Add(new AssemblyName(reference));
            }
            catch (Exception e) when (e is FileNotFoundException or FileLoadException)
            {
                // The host does not have it: the plugin's own copy is not shared.
            }
        }
        return names;
    }

    private static Version CheckContract(string name, string assemblyPath)
    {
        Version? contract;
        try
        {
            contract = ContractReference.Read(assemblyPath);
        }
        catch (BadImageFormatException e)
        {
            throw new PluginLoadException(name, $"{assemblyPath} is not a .NET assembly ({e.Message})", e);
        }
        if (contract is null)
            throw new PluginLoadException(name, $"{assemblyPath} does not reference {PvContract.AssemblyName}, so it cannot contain an IPvPlugin");
        if (ContractReference.Incompatibility(contract, PvContract.Version) is { } why)
            throw new PluginLoadException(name, why);
        return contract;
    }

    private static IPvPlugin CreateEntryType(string name, Assembly assembly)
    {
        Type[] exported;
        try
        {
            exported = assembly.GetExportedTypes();
        }
        catch (Exception e) when (e is ReflectionTypeLoadException or FileNotFoundException or FileLoadException or TypeLoadException)
        {
            throw new PluginLoadException(name, $"cannot list the types of {assembly.GetName().Name}: {e.Message}", e);
        }

        var candidates = exported.Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IPvPlugin).IsAssignableFrom(t)).ToList();
        switch (candidates.Count)
        {
            case 0:
                throw new PluginLoadException(name, $"{assembly.GetName().Name} has no public non-abstract class implementing IPvPlugin; expected exactly one");
            case > 1:
                throw new PluginLoadException(name, $"{assembly.GetName().Name} has {candidates.Count} classes implementing IPvPlugin ({string.Join(", ", candidates.Select(t => t.FullName))}); expected exactly one");
        }
        var type = candidates[0];
        if (type.GetConstructor(Type.EmptyTypes) is not { } constructor)
            throw new PluginLoadException(name, $"{type.FullName} has no public parameterless constructor");
        try
        {
            return (IPvPlugin)constructor.Invoke(null);
        }
        catch (TargetInvocationException e) when (e.InnerException is { } inner)
        {
            throw new PluginLoadException(name, $"constructor of {type.FullName} threw {inner.GetType().Name}: {inner.Message}", inner);
        }
    }

    /// <summary>
    /// <paramref name="contract"/> and every assembly it references, transitively, as the host resolves them:
    /// the types a plugin exchanges with the host.
    /// </summary>
    private static HashSet<string> ContractSurface(Assembly contract)
    {
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var pending = new Stack<Assembly>([contract]);
        names.Add(contract.GetName().Name!);
        while (pending.TryPop(out var assembly))
        {
            foreach (var reference in assembly.GetReferencedAssemblies())
            {
                if (!names.Add(reference.Name!)) continue;
                try
                {
                    pending.Push(AssemblyLoadContext.Default.LoadFromAssemblyName(reference));
                }
                catch (Exception e) when (e is FileNotFoundException or FileLoadException)
                {
                    // Referenced but absent from the host (a facade never used at run time): nothing to share.
                }
            }
        }
        return names;
    }
}
