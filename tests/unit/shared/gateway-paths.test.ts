import { describe, expect, it } from 'vitest';
import { isAllowedGatewayMethod, isDicomWebPath, parseGatewayPath } from '../../../src/shared/gateway';

describe('gateway path rules', () => {
  it('lets QIDO-RS, WADO-RS and STOW-RS resources through', () => {
    expect(isDicomWebPath('/studies')).toBe(true);
    expect(isDicomWebPath('/studies/1.2.3/series/1.2.4/instances/1.2.5')).toBe(true);
    expect(isDicomWebPath('/studies/1.2.3/series/1.2.4/instances/1.2.5/frames/1')).toBe(true);
    expect(isDicomWebPath('/series')).toBe(true);
    expect(isAllowedGatewayMethod('POST', '/studies')).toBe(true);
  });

  it("refuses a site's admin API and path tricks", () => {
    expect(isDicomWebPath('/system')).toBe(false);
    expect(isDicomWebPath('/tools/execute-script')).toBe(false);
    expect(isDicomWebPath('/studies/../../tools/execute-script')).toBe(false);
    expect(isDicomWebPath('/studies//x')).toBe(false);
    expect(isAllowedGatewayMethod('DELETE', '/studies/1.2.3')).toBe(false);
    expect(isAllowedGatewayMethod('POST', '/studies/1.2.3/series')).toBe(false);
  });

  it('splits a gateway URL path into site id and DICOMweb path', () => {
    expect(parseGatewayPath('/sites/hospital-a/dicom-web/studies')).toEqual({ siteId: 'hospital-a', rest: '/studies' });
    expect(parseGatewayPath('/sites/hospital-a/dicom-web')).toEqual({ siteId: 'hospital-a', rest: '/' });
    expect(parseGatewayPath('/api/sites.list')).toBeUndefined();
    expect(parseGatewayPath('/sites/%E0%A4%A/dicom-web/studies')).toBeUndefined();
  });
});
