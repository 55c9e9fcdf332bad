using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;

namespace Paxos.Tests.PublicApi;

/// <summary>
/// The public surface of every shipped package is checked in (<c>PublicApi/*.txt</c>), so a change to it is
/// visible in review. When a change is intended, run with <c>PAXOS_ACCEPT_API=1</c> to rewrite the files.
/// </summary>
public class PublicApiTests
{
    [TestCase("Paxos.Core")]
    [TestCase("Paxos.Simulation")]
    [TestCase("Paxos.Transport.Udp")]
    public void The_public_surface_matches_the_checked_in_file(string assemblyName)
    {
        var assembly = Assembly.Load(assemblyName);
        var actual = Describe(assembly);
        var source = Path.Combine(SourceDirectory(), assemblyName + ".txt");
        if (Environment.GetEnvironmentVariable("PAXOS_ACCEPT_API") == "1")
        {
            File.WriteAllText(source, actual);
            return;
        }

        var expected = File.ReadAllText(File.Exists(source) ? source : Path.Combine(TestContext.CurrentContext.TestDirectory, "PublicApi", assemblyName + ".txt"));
        actual.Should().Be(expected, $"the public API of {assemblyName} changed; if that is intended, run the tests with PAXOS_ACCEPT_API=1 and review the diff of PublicApi/{assemblyName}.txt");
    }

    [Test]
    public void The_description_lists_members_with_their_signatures()
    {
        var text = Describe(typeof(PaxosReplica).Assembly);

        text.Should().Contain("public sealed class Paxos.PaxosReplica").And.Contain("  method Paxos.OutputBatch TakeOutput()");
    }

    /// <summary>One line per public type and member, sorted, with full signatures.</summary>
    internal static string Describe(Assembly assembly)
    {
        var text = new StringBuilder();
        foreach (var type in assembly.GetExportedTypes().OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            text.Append(TypeHeader(type)).Append('\n');
            var members = new List<string>();
            const BindingFlags Flags = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
            if (type.IsEnum)
            {
                members.AddRange(Enum.GetNames(type).Select(n => $"  value {n} = {Convert.ToInt64(Enum.Parse(type, n), System.Globalization.CultureInfo.InvariantCulture)}"));
            }
            else
            {
                members.AddRange(type.GetConstructors(Flags).Select(c => $"  ctor({Parameters(c)})"));
                members.AddRange(type.GetMethods(Flags).Where(m => !m.IsSpecialName).Select(m => $"  method {(m.IsStatic ? "static " : string.Empty)}{Name(m.ReturnType)} {m.Name}({Parameters(m)})"));
                members.AddRange(type.GetMethods(Flags).Where(m => m.IsSpecialName && m.Name.StartsWith("op_", StringComparison.Ordinal)).Select(m => $"  operator {Name(m.ReturnType)} {m.Name}({Parameters(m)})"));
                members.AddRange(type.GetProperties(Flags).Select(p => $"  property {(p.GetMethod?.IsStatic == true ? "static " : string.Empty)}{Name(p.PropertyType)} {p.Name} {{ {Accessors(p)}}}"));
                members.AddRange(type.GetFields(Flags).Where(f => !f.IsSpecialName).Select(f => $"  field {(f.IsLiteral ? "const " : f.IsStatic ? "static " : string.Empty)}{Name(f.FieldType)} {f.Name}"));
                members.AddRange(type.GetEvents(Flags).Select(e => $"  event {Name(e.EventHandlerType!)} {e.Name}"));
            }

            foreach (var member in members.Order(StringComparer.Ordinal))
            {
                text.Append(member).Append('\n');
            }
        }

        return text.ToString();
    }

    private static string TypeHeader(Type type)
    {
        var kind = type.IsEnum ? "enum" : type.IsInterface ? "interface" : type.IsValueType ? "struct" : type.IsAbstract && type.IsSealed ? "static class" : type.IsSealed ? "sealed class" : type.IsAbstract ? "abstract class" : "class";
        var bases = new List<string>();
        if (type.BaseType is { } baseType && baseType != typeof(object) && baseType != typeof(ValueType) && baseType != typeof(Enum))
        {
            bases.Add(Name(baseType));
        }

        bases.AddRange(type.GetInterfaces().Where(i => i.IsPublic).Select(Name).Order(StringComparer.Ordinal));
        return $"public {kind} {Name(type)}{(bases.Count > 0 ? " : " + string.Join(", ", bases) : string.Empty)}";
    }

    private static string Accessors(PropertyInfo property)
    {
        var text = new StringBuilder();
        if (property.GetMethod is { IsPublic: true })
        {
            text.Append("get; ");
        }

        if (property.SetMethod is { IsPublic: true } setter)
        {
            var isInit = setter.ReturnParameter.GetRequiredCustomModifiers().Contains(typeof(IsExternalInit));
            text.Append(isInit ? "init; " : "set; ");
        }

        return text.ToString();
    }

    private static string Parameters(MethodBase method) =>
        string.Join(", ", method.GetParameters().Select(p => $"{(p.ParameterType.IsByRef ? (p.IsIn ? "in " : p.IsOut ? "out " : "ref ") : string.Empty)}{Name(p.ParameterType)} {p.Name}{(p.HasDefaultValue ? " = " + (p.DefaultValue ?? "null") : string.Empty)}"));

    private static string Name(Type type)
    {
        if (type.IsByRef)
        {
            return Name(type.GetElementType()!);
        }

        if (type.IsArray)
        {
            return Name(type.GetElementType()!) + "[]";
        }

        if (Nullable.GetUnderlyingType(type) is { } underlying)
        {
            return Name(underlying) + "?";
        }

        if (!type.IsGenericType)
        {
            return type.FullName ?? type.Name;
        }

        var name = type.GetGenericTypeDefinition().FullName!;
        name = name[..name.IndexOf('`', StringComparison.Ordinal)];
        return $"{name}<{string.Join(", ", type.GetGenericArguments().Select(Name))}>";
    }

    private static string SourceDirectory([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
