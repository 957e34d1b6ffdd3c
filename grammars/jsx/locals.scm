; JSX adds no scopes.
