/// The parts of every schema that the spec defines rather than the application: the
/// built-in scalars and directives, and the introspection types (spec §4.2). Written as
/// SDL and built by the same builder as the application schema.
enum BuiltInSDL {
    static let text = #"""
    "The `Int` scalar type represents non-fractional signed whole numeric values between -2^31 and 2^31-1."
    scalar Int
    "The `Float` scalar type represents signed double-precision fractional values as specified by IEEE 754."
    scalar Float
    "The `String` scalar type represents textual data, represented as UTF-8 character sequences."
    scalar String
    "The `Boolean` scalar type represents `true` or `false`."
    scalar Boolean
    "The `ID` scalar type represents a unique identifier, serialized as a String."
    scalar ID

    "Include this field or fragment only when the `if` argument is true."
    directive @include("Included when true." if: Boolean!) on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT
    "Skip this field or fragment when the `if` argument is true."
    directive @skip("Skipped when true." if: Boolean!) on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT
    "Marks an element of a GraphQL schema as no longer supported."
    directive @deprecated(
      "Why the element is deprecated and what to use instead, in Markdown."
      reason: String = "No longer supported"
    ) on FIELD_DEFINITION | ARGUMENT_DEFINITION | INPUT_FIELD_DEFINITION | ENUM_VALUE
    "Exposes a URL that specifies the behavior of this scalar."
    directive @specifiedBy("The URL that specifies the behavior of this scalar." url: String!) on SCALAR

    "A GraphQL schema: all its types and directives, and the root operation types."
    type __Schema {
      description: String
      "Every type the schema defines."
      types: [__Type!]!
      "The type that query operations start from."
      queryType: __Type!
      "The type that mutation operations start from, if mutations are supported."
      mutationType: __Type
      "The type that subscription operations start from, if subscriptions are supported."
      subscriptionType: __Type
      "The directives the schema supports."
      directives: [__Directive!]!
    }

    "A type of the schema: named types, and the list and non-null wrappers around them."
    type __Type {
      kind: __TypeKind!
      name: String
      description: String
      specifiedByURL: String
      fields(includeDeprecated: Boolean = false): [__Field!]
      interfaces: [__Type!]
      possibleTypes: [__Type!]
      enumValues(includeDeprecated: Boolean = false): [__EnumValue!]
      inputFields(includeDeprecated: Boolean = false): [__InputValue!]
      ofType: __Type
      isOneOf: Boolean
    }

    "The kinds of type `__Type` describes."
    enum __TypeKind {
      "A leaf value: a scalar."
      SCALAR
      "An object with fields."
      OBJECT
      "An abstract type listing fields its implementations have."
      INTERFACE
      "An abstract type that is one of several object types."
      UNION
      "A leaf value from a fixed set."
      ENUM
      "A set of named input values."
      INPUT_OBJECT
      "A list of another type (`ofType`)."
      LIST
      "A non-null form of another type (`ofType`)."
      NON_NULL
    }

    "A field of an object or interface type."
    type __Field {
      name: String!
      description: String
      args(includeDeprecated: Boolean = false): [__InputValue!]!
      type: __Type!
      isDeprecated: Boolean!
      deprecationReason: String
    }

    "An argument or input object field, with its default value as GraphQL text."
    type __InputValue {
      name: String!
      description: String
      type: __Type!
      "The default value as GraphQL text, if there is one."
      defaultValue: String
      isDeprecated: Boolean!
      deprecationReason: String
    }

    "One value of an enum type."
    type __EnumValue {
      name: String!
      description: String
      isDeprecated: Boolean!
      deprecationReason: String
    }

    "A directive the schema supports, where it may appear and its arguments."
    type __Directive {
      name: String!
      description: String
      isRepeatable: Boolean!
      locations: [__DirectiveLocation!]!
      args(includeDeprecated: Boolean = false): [__InputValue!]!
    }

    "Where a directive may appear."
    enum __DirectiveLocation {
      QUERY
      MUTATION
      SUBSCRIPTION
      FIELD
      FRAGMENT_DEFINITION
      FRAGMENT_SPREAD
      INLINE_FRAGMENT
      VARIABLE_DEFINITION
      SCHEMA
      SCALAR
      OBJECT
      FIELD_DEFINITION
      ARGUMENT_DEFINITION
      INTERFACE
      UNION
      ENUM
      ENUM_VALUE
      INPUT_OBJECT
      INPUT_FIELD_DEFINITION
    }
    """#
}
