// The plugin loader: the one type that knows how a plugin assembly gets into the process. It follows
// McMaster.NETCore.Plugins (prescribed, but not restorable from this machine's NuGet source), so swapping
// McMaster in is a change to this file only:
//   - one collectible AssemblyLoadContext per plugin; unloading the plugin lets the GC free it;
//   - private dependencies resolve from the plugin's own folder through its deps.json
//     (AssemblyDependencyResolver), native libraries too;
//   - the contract surface (Pv.Abstractions, everything it references, any Microsoft.Extensions.*.Abstractions
//     the host can load) always comes from the host's default context, so IPvPlugin, IServiceCollection and
//     IConfiguration are the same types on both sides.
// Before any code of the plugin runs: the assembly must be .NET metadata and must reference a compatible
// Pv.Abstractions. After loading: exactly one public IPvPlugin class with a public parameterless constructor.
using System.Reflection;
using System.Runtime.Loader;
using Pv.Abstractions;
using Pv.Abstractions.Plugins;

namespace Pv.Hosting.Loading;

/// <summary>Loads plugin assemblies into their own unloadable contexts, sharing the contract with the host.</summary>
public sealed class PluginLoader
{
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

        var context = new PluginLoadContext(name, assemblyPath, this);
        try
        {
            var assembly = context.LoadFromAssemblyPath(assemblyPath);
            var plugin = CreateEntryType(name, assembly);
            return new LoadedPlugin(name, assemblyPath, contract, context, assembly, plugin);
        }
        catch (PluginLoadException)
        {
            context.Unload();
            throw;
        }
        catch (Exception e) when (e is BadImageFormatException or FileLoadException or FileNotFoundException)
        {
            context.Unload();
            throw new PluginLoadException(name, $"cannot load {assemblyPath}: {e.Message}", e);
        }
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

    /// <summary>True for an assembly a plugin must take from the host.</summary>
    private bool IsShared(string name) =>
        _contractSurface.Contains(name)
        || (name.StartsWith("Microsoft.Extensions.", StringComparison.Ordinal) && name.EndsWith(".Abstractions", StringComparison.Ordinal));

    /// <summary>One plugin's context: shared assemblies from the host, the rest from the plugin's folder.</summary>
    private sealed class PluginLoadContext(string name, string assemblyPath, PluginLoader loader)
        : AssemblyLoadContext($"pv-plugin:{name}", isCollectible: true)
    {
        private readonly AssemblyDependencyResolver _resolver = new(assemblyPath);

        protected override Assembly? Load(AssemblyName assemblyName)
        {
            if (loader.IsShared(assemblyName.Name!))
            {
                try
                {
                    // By simple name: the host's version wins (the contract version was checked before loading).
                    return Default.LoadFromAssemblyName(new AssemblyName(assemblyName.Name!));
                }
                catch (FileNotFoundException)
                {
                    // A Microsoft.Extensions.*.Abstractions the host does not have: the plugin's own copy is not shared.
                }
            }
            return _resolver.ResolveAssemblyToPath(assemblyName) is { } path ? LoadFromAssemblyPath(path) : null;
        }

        protected override IntPtr LoadUnmanagedDll(string unmanagedDllName) =>
            _resolver.ResolveUnmanagedDllToPath(unmanagedDllName) is { } path ? LoadUnmanagedDllFromPath(path) : IntPtr.Zero;
    }
}
