import { Type } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsOptional, IsString, Matches, MaxLength, Min, MinLength, ValidateNested } from 'class-validator';
import { ErrorCode } from './codes';
import { ValidationError } from './errors';
import { validateInput } from './validate-input';

class Item {
  @IsIn(['a', 'b'], { message: 'must be a or b' })
  kind!: string;
}

class Input {
  @IsString({ message: 'must be a non-empty string' })
  @MinLength(1, { message: 'must be a non-empty string' })
  @MaxLength(8)
  id!: string;

  @IsInt()
  @Min(0)
  count!: number;

  @IsISO8601({ strict: true })
  at!: string;

  @IsOptional()
  @Matches(/^[a-z]+$/, { each: true, message: 'must be lower-case words' })
  tags?: string[];

  @ValidateNested({ each: true })
  @Type(() => Item)
  items!: Item[];
}

const valid = { id: 'x1', count: 2, at: '2030-01-31T18:00:00Z', items: [{ kind: 'a' }] };

/** The ValidationError `run` throws. */
function failure(run: () => unknown): ValidationError {
  try {
    run();
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error('no ValidationError was thrown');
}

describe('validateInput', () => {
  it('answers an instance of the DTO for valid input', () => {
    const input = validateInput(Input, valid, { what: 'input' });
    expect(input).toBeInstanceOf(Input);
    expect(input.items[0]).toBeInstanceOf(Item);
    expect(input).toEqual(valid);
  });

  it('names every invalid field with a dotted path and the rule it breaks', () => {
    const error = failure(() =>
      validateInput(Input, { ...valid, id: '', count: -1, tags: ['ok', 'Bad'], items: [{ kind: 'a' }, { kind: 'c' }] }, { what: 'input' }),
    );
    expect(error.code).toBe(ErrorCode.VALIDATION_FAILED);
    expect(error.details).toEqual([
      { field: 'id', message: 'must be a non-empty string' },
      { field: 'count', message: 'must not be less than 0' },
      { field: 'tags', message: 'must be lower-case words' },
      { field: 'items[1].kind', message: 'must be a or b' },
    ]);
    expect(error.message).toBe(
      'invalid input: id must be a non-empty string; count must not be less than 0; tags must be lower-case words; items[1].kind must be a or b',
    );
  });

  it('refuses unknown fields, or drops them when told to', () => {
    expect(failure(() => validateInput(Input, { ...valid, extra: 1 }, { what: 'input' })).details).toEqual([
      { field: 'extra', message: 'unknown field' },
    ]);
    expect(validateInput(Input, { ...valid, extra: 1 }, { what: 'input', forbidUnknown: false })).not.toHaveProperty('extra');
  });

  it('refuses what is no object, with the code asked for', () => {
    for (const plain of [null, 'text', [valid]]) {
      const error = failure(() => validateInput(Input, plain, { what: 'input', code: ErrorCode.CONFIG_INVALID }));
      expect(error.code).toBe(ErrorCode.CONFIG_INVALID);
      expect(error.message).toBe('invalid input: must be an object');
    }
  });
});
