import {
  ENVIRONMENT_SCOPED_PERMISSIONS,
  PERMISSIONS,
  Permission,
  ROLES,
  Role,
  authorize,
  authorizeTokenOwner,
  isPermission,
  isRole,
} from './permissions';

/** The whole matrix, written out by hand so that a change to a role's permissions shows up here. */
const EXPECTED: Record<Role, Record<Permission, boolean>> = {
  viewer: {
    read: true,
    'read:secrets': false,
    'package:import': false,
    deploy: false,
    'task:operate': false,
    control: false,
    'token:own': true,
    'infrastructure:manage': false,
    'environment:manage': false,
    'user:manage': false,
    'token:manage': false,
    'worker:manage': false,
    'audit:read': false,
  },
  deployer: {
    read: true,
    'read:secrets': false,
    'package:import': true,
    deploy: true,
    'task:operate': true,
    control: true,
    'token:own': true,
    'infrastructure:manage': false,
    'environment:manage': false,
    'user:manage': false,
    'token:manage': false,
    'worker:manage': false,
    'audit:read': false,
  },
  admin: Object.fromEntries(PERMISSIONS.map((p) => [p, true])) as Record<Permission, boolean>,
};

describe('authorize', () => {
  describe.each(ROLES)('role %s without environment narrowing', (role) => {
    it.each(PERMISSIONS)('%s', (permission) => {
      const decision = authorize({ role, environments: null }, permission, { environment: 'prod' });
      expect(decision.allowed).toBe(EXPECTED[role][permission]);
      if (!decision.allowed) expect(decision.reason).toBe(`role ${role} does not have permission ${permission}`);
    });
  });

  describe('a deployer narrowed to dev and test', () => {
    const deployer = { role: 'deployer' as const, environments: ['dev', 'test'] };

    it.each([...ENVIRONMENT_SCOPED_PERMISSIONS])('%s is allowed in a listed environment', (permission) => {
      expect(authorize(deployer, permission, { environment: 'dev' })).toEqual({ allowed: true });
      expect(authorize(deployer, permission, { environment: 'test' })).toEqual({ allowed: true });
    });

    it.each([...ENVIRONMENT_SCOPED_PERMISSIONS])('%s is refused in another environment, saying why', (permission) => {
      expect(authorize(deployer, permission, { environment: 'prod' })).toEqual({
        allowed: false,
        reason: `permission ${permission} is limited to environments dev, test, not prod`,
      });
    });

    it('is refused an environment-scoped permission when the request names no environment (fails closed)', () => {
      const decision = authorize(deployer, 'deploy');
      expect(decision.allowed).toBe(false);
      expect(!decision.allowed && decision.reason).toContain('names none');
    });

    it('may operate on an object that belongs to no environment', () => {
      expect(authorize(deployer, 'task:operate', { environment: null })).toEqual({ allowed: true });
    });

    it('keeps its permissions that are not environment-scoped everywhere', () => {
      expect(authorize(deployer, 'package:import', { environment: 'prod' })).toEqual({ allowed: true });
      expect(authorize(deployer, 'control')).toEqual({ allowed: true });
      expect(authorize(deployer, 'read')).toEqual({ allowed: true });
    });

    it('gains nothing from the narrowing', () => {
      expect(authorize(deployer, 'worker:manage', { environment: 'dev' }).allowed).toBe(false);
    });
  });

  it('refuses every environment to a deployer narrowed to none', () => {
    const decision = authorize({ role: 'deployer', environments: [] }, 'deploy', { environment: 'dev' });
    expect(decision).toEqual({ allowed: false, reason: 'permission deploy is limited to environments (none), not dev' });
  });

  it('ignores an environment list on other roles', () => {
    expect(authorize({ role: 'admin', environments: ['dev'] }, 'deploy', { environment: 'prod' })).toEqual({ allowed: true });
    expect(authorize({ role: 'viewer', environments: ['dev'] }, 'deploy', { environment: 'dev' }).allowed).toBe(false);
  });
});

describe('authorizeTokenOwner', () => {
  it.each(['viewer', 'deployer'] as const)('lets a %s manage its own tokens only', (role) => {
    const subject = { role, environments: null, userId: 'me' };
    expect(authorizeTokenOwner(subject, 'me')).toEqual({ allowed: true });
    expect(authorizeTokenOwner(subject, 'someone-else')).toEqual({
      allowed: false,
      reason: `role ${role} may manage only its own tokens`,
    });
  });

  it('lets an admin manage everyone\'s tokens', () => {
    expect(authorizeTokenOwner({ role: 'admin', environments: null, userId: 'me' }, 'someone-else')).toEqual({ allowed: true });
  });
});

describe('type guards', () => {
  it('recognise roles and permissions', () => {
    expect(ROLES.every(isRole)).toBe(true);
    expect(isRole('root')).toBe(false);
    expect(isRole(1)).toBe(false);
    expect(PERMISSIONS.every(isPermission)).toBe(true);
    expect(isPermission('everything')).toBe(false);
  });
});
